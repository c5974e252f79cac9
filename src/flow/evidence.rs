//! A flow's captured frames, kept for its evidence bundle, within a memory budget that the
//! whole run shares and that is handed in (not a global).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of frames held for evidence by a whole run: in flow tables, in records on their way
/// to the writer. Clones share the count; frames are not kept past the table's
/// `FlowConfig::evidence_total_bytes`.
#[derive(Debug, Clone, Default)]
pub struct EvidenceBudget(Arc<AtomicUsize>);

impl EvidenceBudget {
    /// Bytes of frames held right now.
    pub fn held(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// The bytes a kept frame costs besides its copy: its index entry.
pub const FRAME_COST: usize = std::mem::size_of::<(u64, u32, u32, u32)>();

/// Inputs named per flow at most (a flow spread over more files names the first ones).
const MAX_INPUTS: usize = 16;

/// A flow's frames, as captured, for an evidence bundle.
#[derive(Debug, Default)]
pub struct Evidence {
    /// LINKTYPE_* of the frames (of the first; frames of other link types are not kept).
    pub link: u16,
    /// (capture time, length on the wire, offset and length in `data`)
    pub frames: Vec<(u64, u32, u32, u32)>,
    /// The frames' bytes, one after another.
    pub data: Vec<u8>,
    /// The inputs (files, interfaces: their index in the run) the kept frames came from.
    pub inputs: Vec<u32>,
    /// The budget this copy's bytes are counted in, and how many, given back on drop.
    accounted: Option<(EvidenceBudget, usize)>,
}

impl Clone for Evidence {
    fn clone(&self) -> Self {
        Evidence {
            link: self.link,
            frames: self.frames.clone(),
            data: self.data.clone(),
            inputs: self.inputs.clone(),
            // A copy is outside the budget (only tests make one).
            accounted: None,
        }
    }
}

impl Drop for Evidence {
    fn drop(&mut self) {
        if let Some((budget, n)) = &self.accounted {
            budget.0.fetch_sub(*n, Ordering::Relaxed);
        }
    }
}

/// The caps a frame is kept within.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    pub frames: usize,
    pub bytes: usize,
    pub total: usize,
}

impl Evidence {
    /// Keeps a copy of `frame` (its bytes, link type and input) within the flow's caps; false
    /// when the run's budget is spent and the frame could not be kept.
    pub(crate) fn keep(
        &mut self,
        ts: u64,
        wire: u32,
        (frame, link, input): (&[u8], u16, u32),
        caps: Caps,
        budget: &EvidenceBudget,
    ) -> bool {
        if self.frames.is_empty() {
            self.link = link;
        }
        if link != self.link
            || self.frames.len() >= caps.frames
            || self.data.len() + frame.len() > caps.bytes
        {
            return true;
        }
        let cost = frame.len() + FRAME_COST;
        if budget.0.fetch_add(cost, Ordering::Relaxed) + cost > caps.total {
            budget.0.fetch_sub(cost, Ordering::Relaxed);
            return false;
        }
        match &mut self.accounted {
            Some((_, n)) => *n += cost,
            None => self.accounted = Some((budget.clone(), cost)),
        }
        self.frames
            .push((ts, wire, self.data.len() as u32, frame.len() as u32));
        self.data.extend_from_slice(frame);
        if !self.inputs.contains(&input) && self.inputs.len() < MAX_INPUTS {
            self.inputs.push(input);
        }
        true
    }

    /// Frame `i`'s bytes.
    pub fn frame(&self, i: usize) -> Option<&[u8]> {
        let &(_, _, off, len) = self.frames.get(i)?;
        self.data.get(off as usize..(off + len) as usize)
    }
}
