fn main() {
    std::process::exit(minetap::cli::main());
}
