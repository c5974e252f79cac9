//! A scan's inputs read in pieces: capture files and streams in; their packets out through the
//! readers, and one report per input.
//!
//! The calling thread opens the inputs in order and cuts each into pieces (`source::Piece`);
//! piece g goes to reader g mod R. The workers take their batches in the same turn (see
//! `worker::Feed`), so every flow's packets reach its worker in the order of the input however
//! many readers decode them. A damaged piece ends its input, as it would for one reader: the
//! pieces after it are neither taken by the workers nor counted here.

use super::reader::Reader;
use super::shared::{InputReport, Progress, RunStats, Shared};
use crate::source::{open_input, InputError, InputName, Piece, ReadOutcome};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::Ordering;

/// A piece on its way to a reader.
pub(super) struct PieceJob {
    /// Its place among all pieces of the run.
    g: u64,
    /// Its input, by index in the run.
    input: u32,
    piece: Piece,
}

/// What a reader made of a piece.
pub(super) struct PieceDone {
    g: u64,
    input: u32,
    outcome: ReadOutcome,
    stats: RunStats,
}

/// What became of an input as it was opened and cut.
pub(super) enum Opened {
    Failed(InputError),
    Cut {
        name: InputName,
        /// What cutting found (a stream's damage or read error, an interruption).
        outcome: ReadOutcome,
    },
}

/// Opens the inputs in order and cuts them into pieces of about `size` bytes, handing piece g
/// to `to[g % R]`; stops early when the run is asked to.
pub(super) fn cut_inputs(
    inputs: Vec<InputName>,
    (to, size): (Vec<Sender<PieceJob>>, usize),
    shared: &Shared,
    progress: &dyn Progress,
) -> Vec<Opened> {
    let mut opened = Vec::new();
    let mut g = 0u64;
    for (i, name) in inputs.into_iter().enumerate() {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let mut input = match open_input(name) {
            Ok(input) => input,
            Err(e) => {
                opened.push(Opened::Failed(e));
                continue;
            }
        };
        progress.start_input(&input.name, input.size);
        let mut hand = |piece: Piece| {
            let job = PieceJob {
                g,
                input: i as u32,
                piece,
            };
            // A reader only goes away if it panicked; its pieces are then lost with it.
            let _ = to[(g % to.len() as u64) as usize].send(job);
            g += 1;
        };
        let outcome = input.cut(size, &shared.stop, &mut hand);
        opened.push(Opened::Cut {
            name: input.name,
            outcome,
        });
    }
    opened
}

/// A reader's loop: every piece handed to it, read in turn.
pub(super) fn read_pieces(
    reader: &mut Reader<'_>,
    jobs: Receiver<PieceJob>,
    progress: &dyn Progress,
) -> Vec<PieceDone> {
    let mut done = Vec::new();
    for PieceJob {
        g,
        input,
        mut piece,
    } in jobs
    {
        let (outcome, stats) = reader.piece(input, &mut piece, progress);
        done.push(PieceDone {
            g,
            input,
            outcome,
            stats,
        });
    }
    done
}

/// Every input's report, in order, with the counts of its pieces up to the first damaged one.
pub(super) fn reports(opened: Vec<Opened>, mut done: Vec<PieceDone>) -> RunStats {
    done.sort_by_key(|d| d.g);
    let mut stats = RunStats::default();
    let mut pieces = done.into_iter().peekable();
    for (i, o) in opened.into_iter().enumerate() {
        let (name, cut) = match o {
            Opened::Failed(e) => {
                stats.inputs.push(InputReport::Failed(e));
                continue;
            }
            Opened::Cut { name, outcome } => (name, outcome),
        };
        let (mut packets, mut damage, mut interrupted) = (0, None, cut.interrupted);
        while let Some(p) = pieces.next_if(|p| p.input == i as u32) {
            if damage.is_some() {
                continue;
            }
            packets += p.stats.packets;
            stats.merge(p.stats);
            damage = p.outcome.damage;
            interrupted |= p.outcome.interrupted;
        }
        stats.inputs.push(InputReport::Read {
            name,
            packets,
            damage: damage.or(cut.damage),
            interrupted,
        });
    }
    stats
}
