//! The command line's errors, each with the exit status it ends in.

use std::fmt;

/// What stops a command, and so its exit status.
#[derive(Debug)]
pub enum CliError {
    /// The command line or the settings make no sense, or something they name (a config
    /// file, the rules, a store, a key) cannot be used: exit status 2.
    Usage(String),
    /// An input to read (a capture, an interface) could not be used: exit status 1.
    Input(String),
    /// Output could not be written: exit status 2.
    Output(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Input(_) => 1,
            CliError::Usage(_) | CliError::Output(_) => 2,
        }
    }

    /// Says the error on stderr, as one line; the exit status.
    pub fn report(&self) -> i32 {
        eprintln!("minetap: error: {self}");
        self.exit_code()
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Input(m) | CliError::Output(m) => f.write_str(m),
        }
    }
}
