//! A batch of packets on its way from a reader to a worker: the packets' metadata, offsets
//! into the shared input blocks they came in, and the bytes that had to be copied (payloads
//! rebuilt from fragments, DNS answers that every worker learns from).

use crate::flow::PacketMeta;
use crate::source::Block;
use std::ops::Range;

/// Where an item's bytes are: in one of the batch's blocks, or in its arena.
#[derive(Debug, Clone, Copy)]
pub(super) enum Place {
    Block(u32),
    Arena,
}

pub(super) struct Item {
    pub meta: PacketMeta,
    place: Place,
    /// The payload, within its place.
    payload: Range<usize>,
    /// The whole captured frame (in the same block) and its link type.
    frame: Range<usize>,
    link: u16,
}

#[derive(Default)]
pub(super) struct Batch {
    pub blocks: Vec<Block>,
    pub items: Vec<Item>,
    /// Copied bytes: payloads rebuilt from IP fragments, DNS answers.
    pub arena: Vec<u8>,
    /// DNS answers (capture time, bytes in the arena), to be read before the item at the given
    /// index: every worker learns pool addresses from them, whichever worker has their flow.
    pub dns: Vec<(usize, u64, Range<usize>)>,
    /// The input (file or interface, by its index in the run) every item came from: a reader
    /// sends its batches off before it starts on another input.
    pub input: u32,
    /// The capture's clock after the batch's packets (live capture on a quiet link): the
    /// worker ages its flows up to it.
    pub clock_ns: Option<u64>,
    /// The last batch of a piece of an input (files read by several readers): the worker
    /// takes its next batch from the reader of the next piece.
    pub piece_end: Option<PieceEnd>,
}

/// How a piece of an input ended, as its last batch tells the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PieceEnd {
    /// Read to its end.
    Whole,
    /// Damaged: the input ends here, later pieces of it are not counted.
    Damaged,
}

impl Batch {
    /// Whether the batch refers to `block` already (as its last block).
    pub fn has_block(&self, block: &Block) -> bool {
        self.blocks
            .last()
            .is_some_and(|x| std::sync::Arc::ptr_eq(x, block))
    }

    /// Adds a packet whose payload and frame lie in `block` at the given offsets.
    pub fn push_in_block(
        &mut self,
        meta: PacketMeta,
        block: &Block,
        payload: Range<usize>,
        (frame, link): (Range<usize>, u16),
    ) {
        if !self.has_block(block) {
            self.blocks.push(block.clone());
        }
        let place = Place::Block((self.blocks.len() - 1) as u32);
        self.items.push(Item {
            meta,
            place,
            payload,
            frame,
            link,
        });
    }

    /// Adds a packet whose payload had to be rebuilt (it has no single captured frame).
    pub fn push_rebuilt(&mut self, meta: PacketMeta, payload: &[u8], link: u16) {
        let start = self.arena.len();
        self.arena.extend_from_slice(payload);
        self.items.push(Item {
            meta,
            place: Place::Arena,
            payload: start..self.arena.len(),
            frame: 0..0,
            link,
        });
    }

    /// Adds a DNS answer to be learned from before the next item.
    pub fn push_dns(&mut self, ts: u64, answer: &[u8]) {
        let start = self.arena.len();
        self.arena.extend_from_slice(answer);
        self.dns
            .push((self.items.len(), ts, start..self.arena.len()));
    }

    /// The captured frame of an item, its link type and input (none for datagrams rebuilt
    /// from fragments).
    pub fn frame(&self, it: &Item) -> Option<(&[u8], u16, u32)> {
        match it.place {
            Place::Block(b) => Some((
                &self.blocks[b as usize][it.frame.clone()],
                it.link,
                self.input,
            )),
            Place::Arena => None,
        }
    }

    pub fn payload(&self, it: &Item) -> &[u8] {
        match it.place {
            Place::Block(b) => &self.blocks[b as usize][it.payload.clone()],
            Place::Arena => &self.arena[it.payload.clone()],
        }
    }

    /// Empties the batch for reuse, keeping its allocations.
    pub fn clear(&mut self) {
        self.items.clear();
        self.blocks.clear();
        self.arena.clear();
        self.dns.clear();
        self.clock_ns = None;
        self.piece_end = None;
    }
}
