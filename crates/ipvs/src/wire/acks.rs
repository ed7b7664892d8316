//! Which requests of a batch the kernel has answered. Pure bookkeeping, so the cases a
//! real kernel rarely produces (late, duplicate or foreign answers) are unit-tested.

/// What became of one request of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    Acked,
    /// Refused with this errno.
    Failed(i32),
}

/// Answers to a batch of requests numbered `first_seq, first_seq + 1, ...`.
#[derive(Debug, Clone)]
pub struct AckTracker {
    first_seq: u32,
    outcomes: Vec<Outcome>,
    pending: usize,
}

impl AckTracker {
    pub fn new(first_seq: u32, count: usize) -> Self {
        AckTracker { first_seq, outcomes: vec![Outcome::Pending; count], pending: count }
    }

    /// Records an answer (`errno == 0`: ack). Answers to other requests (an earlier,
    /// abandoned one) and repeated answers are ignored. Returns the request index when
    /// this answer settled it.
    pub fn record(&mut self, seq: u32, errno: i32) -> Option<usize> {
        let idx = seq.wrapping_sub(self.first_seq) as usize;
        let slot = self.outcomes.get_mut(idx)?;
        if *slot != Outcome::Pending {
            return None;
        }
        *slot = if errno == 0 { Outcome::Acked } else { Outcome::Failed(errno) };
        self.pending -= 1;
        Some(idx)
    }

    /// Requests not answered yet.
    pub fn pending(&self) -> usize {
        self.pending
    }

    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_duplicate_and_foreign_answers_do_not_count() {
        let mut t = AckTracker::new(u32::MAX - 1, 3); // seqs wrap: MAX-1, MAX, 0
        assert_eq!(t.record(7, 0), None); // foreign
        assert_eq!(t.record(u32::MAX - 2, 0), None); // late answer to an earlier request
        assert_eq!(t.record(u32::MAX, libc::EEXIST), Some(1));
        assert_eq!(t.record(u32::MAX, 0), None); // duplicate
        assert_eq!(t.pending(), 2);
        assert_eq!(t.record(0, 0), Some(2));
        assert_eq!(t.record(u32::MAX - 1, 0), Some(0));
        assert_eq!(t.pending(), 0);
        assert_eq!(t.outcomes(), &[Outcome::Acked, Outcome::Failed(libc::EEXIST), Outcome::Acked]);
    }
}
