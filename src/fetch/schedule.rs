//! Who downloads which bytes: a queue of pieces handed out in file order, and work stealing
//! when the queue runs dry so every connection stays busy to the last byte.
//!
//! Each piece in flight is a [`Slot`]: its owner claims one [`BLOCK`] at a time below `end`.
//! An idle worker may move a slot's `end` down (under the slot's lock) and take the bytes above
//! it: it splits the largest remaining slot in half (aria2/axel), or, when a slot has made no
//! progress for a while (or is so slow that the rest would take it that long), takes over
//! everything its owner has not claimed yet — the "hedge" for a
//! stalled connection that does not write any byte twice. Split points are block-aligned and
//! never below the owner's claim, so the byte ranges of all owners stay disjoint: that is the
//! invariant `sink::MappedFile::slice_mut` relies on.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::verify::BLOCK;

/// A piece in flight. `pos..claimed` is being written by the owner right now; `claimed..end`
/// is still unclaimed and may be stolen.
#[derive(Debug)]
pub struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Debug)]
struct SlotState {
    pos: u64,
    claimed: u64,
    /// Bytes below this were given up by the owner ahead of its writes ([`Slot::claim_fresh`]).
    fresh: u64,
    end: u64,
    last_progress: Instant,
    /// Where the slot started and when: the owner's rate so far.
    first: u64,
    since: Instant,
}

impl SlotState {
    /// Whether the owner, at its rate so far, needs longer than `within` for what it has not
    /// claimed yet (judged once it has run that long: a slow owner, not only a silent one).
    fn slow(&self, within: Duration) -> bool {
        let el = self.since.elapsed();
        if el < within {
            return false;
        }
        let rate = self.pos.saturating_sub(self.first) as f64 / el.as_secs_f64();
        self.end.saturating_sub(self.claimed) as f64 > rate * within.as_secs_f64()
    }
}

impl Slot {
    fn new(start: u64, end: u64) -> Slot {
        let now = Instant::now();
        Slot {
            state: Mutex::new(SlotState {
                pos: start,
                claimed: start,
                fresh: start,
                end,
                last_progress: now,
                first: start,
                since: now,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Current `(pos, end)`: the first byte not yet written and the end of this slot.
    pub fn bounds(&self) -> (u64, u64) {
        let s = self.lock();
        (s.pos, s.end)
    }

    /// Claim the next block: returns `(start, end)` of the bytes the caller may now write, or
    /// `None` when the slot is finished (possibly because its end was stolen).
    pub fn claim(&self) -> Option<(u64, u64)> {
        self.claim_fresh(0, |_, _| {})
    }

    /// As [`Slot::claim`], for an owner that gives up its bytes ahead of its writes a window at
    /// a time: when the block reaches past what was given up, `give_up(a, b)` is called for
    /// the next `a..b` of at most `window` bytes (a block at least) from the block's start,
    /// clipped to `end`; a `window` of 0 gives up nothing. It runs under the slot's lock, so no
    /// thief can take any of those bytes meanwhile; a thief that takes some later starts its
    /// writes after they were given up.
    pub fn claim_fresh(&self, window: u64, give_up: impl FnOnce(u64, u64)) -> Option<(u64, u64)> {
        let mut s = self.lock();
        if s.pos >= s.end {
            return None;
        }
        let next_boundary = (s.pos / BLOCK + 1) * BLOCK;
        let e = next_boundary.min(s.end);
        if window > 0 && e > s.fresh {
            let from = s.fresh.max(s.pos);
            let to = (from + window.max(BLOCK)).min(s.end);
            give_up(from, to);
            s.fresh = to;
        }
        s.claimed = e;
        Some((s.pos, e))
    }

    /// The claimed block up to `upto` is written.
    pub fn advance(&self, upto: u64) {
        let mut s = self.lock();
        s.pos = upto;
        s.last_progress = Instant::now();
    }

    /// Record a sign of life without bytes (e.g. a retry began).
    pub fn touch(&self) {
        self.lock().last_progress = Instant::now();
    }
}

/// The piece queue plus the slots in flight.
#[derive(Debug)]
pub struct Scheduler {
    inner: Mutex<Inner>,
    min_split: u64,
    stall_takeover: Duration,
}

#[derive(Debug)]
struct Inner {
    queue: VecDeque<(u64, u64)>,
    active: Vec<Arc<Slot>>,
}

/// What an idle worker should do next.
pub enum Next {
    /// Download this slot.
    Work(Arc<Slot>),
    /// Nothing to take now, but slots are in flight: look again shortly.
    Wait,
    /// Everything is handed out and finished.
    Finished,
}

impl Scheduler {
    /// A scheduler over `pieces` (in the order they should be fetched). A slot is split only
    /// when both halves would hold at least `min_split` bytes; a slot silent for
    /// `stall_takeover` may be taken over entirely.
    pub fn new(pieces: Vec<(u64, u64)>, min_split: u64, stall_takeover: Duration) -> Scheduler {
        Scheduler {
            inner: Mutex::new(Inner { queue: pieces.into(), active: Vec::new() }),
            min_split: min_split.max(BLOCK),
            stall_takeover,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hand out the next piece, or steal part of one in flight.
    pub fn next(&self) -> Next {
        let mut inner = self.lock();
        if let Some((s, e)) = inner.queue.pop_front() {
            let slot = Arc::new(Slot::new(s, e));
            inner.active.push(slot.clone());
            return Next::Work(slot);
        }
        if inner.active.is_empty() {
            return Next::Finished;
        }
        // Largest unclaimed remainder first: split in half when it is large, else take over
        // the rest of the largest slot whose owner is silent or too slow to finish it soon.
        let mut best: Option<(u64, &Arc<Slot>)> = None;
        let mut lagging: Option<(u64, &Arc<Slot>)> = None;
        for slot in &inner.active {
            let st = slot.lock();
            let rem = st.end.saturating_sub(st.claimed);
            if rem > 0 && best.is_none_or(|(r, _)| rem > r) {
                best = Some((rem, slot));
            }
            let behind = st.last_progress.elapsed() >= self.stall_takeover || st.slow(self.stall_takeover);
            if rem > 0 && behind && lagging.is_none_or(|(r, _)| rem > r) {
                lagging = Some((rem, slot));
            }
        }
        let victim = match (best, lagging) {
            (Some((rem, v)), _) if rem >= 2 * self.min_split => v.clone(),
            (_, Some((_, v))) => v.clone(),
            _ => return Next::Wait,
        };
        let mut st = victim.lock();
        let rem = st.end.saturating_sub(st.claimed);
        let split = if rem >= 2 * self.min_split {
            align_up(st.claimed + rem / 2)
        } else if rem > 0 && (st.last_progress.elapsed() >= self.stall_takeover || st.slow(self.stall_takeover)) {
            st.claimed
        } else {
            return Next::Wait;
        };
        if split >= st.end {
            return Next::Wait;
        }
        let new = Arc::new(Slot::new(split, st.end));
        debug!("steal {}..{} (owner at {})", split, st.end, st.pos);
        st.end = split;
        drop(st);
        inner.active.push(new.clone());
        Next::Work(new)
    }

    /// The worker is done with `slot` (finished, or gave up on it).
    pub fn release(&self, slot: &Arc<Slot>) {
        let mut inner = self.lock();
        inner.active.retain(|s| !Arc::ptr_eq(s, slot));
    }

    /// Put the unfinished rest of a slot back at the front of the queue (after its owner gave
    /// up on it for a reason that another attempt may not share).
    pub fn requeue(&self, slot: &Arc<Slot>) {
        let (pos, end) = slot.bounds();
        let mut inner = self.lock();
        inner.active.retain(|s| !Arc::ptr_eq(s, slot));
        if pos < end {
            inner.queue.push_front((pos, end));
        }
    }
}

fn align_up(x: u64) -> u64 {
    x.div_ceil(BLOCK) * BLOCK
}

/// Cut `start..end` into pieces of about `piece` bytes with block-aligned boundaries.
pub fn pieces(start: u64, end: u64, piece: u64) -> Vec<(u64, u64)> {
    let piece = align_up(piece.max(BLOCK));
    let mut v = Vec::new();
    let mut s = start;
    while s < end {
        let e = (s / BLOCK * BLOCK + piece).min(end);
        v.push((s, e));
        s = e;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot_of(n: Next) -> Arc<Slot> {
        match n {
            Next::Work(s) => s,
            _ => panic!("expected work"),
        }
    }

    #[test]
    fn pieces_are_aligned_and_cover() {
        let p = pieces(0, 10 * BLOCK + 5, 4 * BLOCK);
        assert_eq!(p, vec![(0, 4 * BLOCK), (4 * BLOCK, 8 * BLOCK), (8 * BLOCK, 10 * BLOCK + 5)]);
        let p = pieces(3 * BLOCK, 4 * BLOCK, 1 << 20);
        assert_eq!(p, vec![(3 * BLOCK, 4 * BLOCK)]);
        assert!(pieces(5, 5, 100).is_empty());
    }

    #[test]
    fn idle_worker_splits_largest_remaining_slot() {
        let s = Scheduler::new(vec![(0, 64 * BLOCK)], 4 * BLOCK, Duration::from_secs(100));
        let a = slot_of(s.next());
        assert_eq!(a.claim(), Some((0, BLOCK)));
        let b = slot_of(s.next());
        let (bs, be) = b.bounds();
        assert_eq!(be, 64 * BLOCK);
        assert_eq!(bs % BLOCK, 0);
        assert!(bs > BLOCK && bs < 64 * BLOCK);
        assert_eq!(a.bounds().1, bs, "owner's end moved down to the split");
        // Disjoint: a can never claim beyond bs.
        a.advance(BLOCK);
        let mut last = 0;
        while let Some((_, e)) = a.claim() {
            a.advance(e);
            last = e;
        }
        assert_eq!(last, bs);
    }

    #[test]
    fn bytes_are_given_up_a_window_ahead_and_never_past_a_thiefs_split() {
        let s = Scheduler::new(vec![(0, 64 * BLOCK)], 4 * BLOCK, Duration::from_secs(100));
        let a = slot_of(s.next());
        let given = std::cell::RefCell::new(Vec::new());
        let claim = |slot: &Slot| slot.claim_fresh(4 * BLOCK, |x, y| given.borrow_mut().push((x, y)));
        assert_eq!(claim(&a), Some((0, BLOCK)));
        a.advance(BLOCK);
        assert_eq!(claim(&a), Some((BLOCK, 2 * BLOCK)));
        assert_eq!(*given.borrow(), vec![(0, 4 * BLOCK)], "one window for the first four blocks");
        // A thief splits the unclaimed rest: its bytes lie above what the owner has given up
        // or starts after it, and the owner gives up nothing past its new end.
        let b = slot_of(s.next());
        let (bs, _) = b.bounds();
        assert!(bs >= 4 * BLOCK);
        a.advance(2 * BLOCK);
        let mut last = 0;
        while let Some((x, e)) = claim(&a) {
            assert!(given.borrow().iter().any(|&(g, h)| g <= x && e <= h), "block {x}..{e} was given up first");
            a.advance(e);
            last = e;
        }
        assert_eq!(last, bs);
        assert!(given.borrow().iter().all(|&(_, h)| h <= bs), "nothing of the thief's was given up by the owner");
        given.borrow_mut().clear();
        assert_eq!(claim(&b), Some((bs, bs + BLOCK)));
        assert_eq!(given.borrow()[0], (bs, bs + 4 * BLOCK), "the thief gives up its own bytes before writing");
    }

    #[test]
    fn small_remainders_are_not_split_until_stalled() {
        let s = Scheduler::new(vec![(0, 4 * BLOCK)], 4 * BLOCK, Duration::from_millis(30));
        let a = slot_of(s.next());
        a.claim();
        assert!(matches!(s.next(), Next::Wait));
        std::thread::sleep(Duration::from_millis(40));
        let b = slot_of(s.next());
        assert_eq!(b.bounds(), (BLOCK, 4 * BLOCK), "takeover starts above the owner's claim");
        assert_eq!(a.bounds().1, BLOCK);
        s.release(&a);
        s.release(&b);
        assert!(matches!(s.next(), Next::Finished));
    }

    #[test]
    fn a_slow_owner_is_taken_over_before_it_falls_silent() {
        let s = Scheduler::new(vec![(0, 8 * BLOCK)], 8 * BLOCK, Duration::from_millis(40));
        let a = slot_of(s.next());
        let (_, e) = a.claim().unwrap();
        a.advance(e);
        assert!(matches!(s.next(), Next::Wait), "too early to judge the owner");
        // Signs of life every 10 ms, never silent for 40 ms, but one block in 60 ms: the other
        // seven would take far longer than 40 ms.
        for _ in 0..6 {
            std::thread::sleep(Duration::from_millis(10));
            a.touch();
        }
        let b = slot_of(s.next());
        assert_eq!(b.bounds(), (BLOCK, 8 * BLOCK));
        assert_eq!(a.bounds().1, BLOCK);
    }

    #[test]
    fn requeue_puts_rest_first() {
        let s = Scheduler::new(vec![(0, 2 * BLOCK), (2 * BLOCK, 4 * BLOCK)], BLOCK, Duration::from_secs(100));
        let a = slot_of(s.next());
        a.claim();
        a.advance(BLOCK);
        s.requeue(&a);
        let b = slot_of(s.next());
        assert_eq!(b.bounds(), (BLOCK, 2 * BLOCK));
    }
}
