//! The feed's cursor: opaque to consumers, built on the log sequence number. `next` names the last
//! log record a page examined (accepted or not), so the following page starts right after it and
//! nothing is read twice; consumers must not parse it (its form may change, with a new prefix).

use super::{FeedError, Result};

/// Prefix of the cursor's first form.
const PREFIX: &str = "s1.";

/// A position in the log: "after sequence number N" (0: before the first record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor(pub u64);

impl Cursor {
    /// The cursor's text.
    pub fn encode(self) -> String {
        format!("{PREFIX}{:016x}", self.0)
    }

    /// Parse a cursor made by [`Cursor::encode`].
    pub fn decode(text: &str) -> Result<Self> {
        text.strip_prefix(PREFIX)
            .filter(|h| h.len() == 16)
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .map(Self)
            .ok_or_else(|| FeedError::BadCursor(text.chars().take(64).collect()))
    }

    /// Whether this log can continue from here: `first` is the oldest retained record (`None`:
    /// empty log) and `head` the last durable one. A cursor before the retained log, or beyond its
    /// end (a cursor of another scimd, or of this one before it was restored from an older
    /// backup), is gone (410): the consumer starts over from a snapshot.
    pub fn check(self, first: Option<u64>, head: u64) -> Result<()> {
        if self.0 > head {
            return Err(FeedError::Gone(format!(
                "the cursor is past the end of this log (sequence {} > {head}): it comes from \
                 another scimd, or from before this one was restored from a backup; take a new \
                 snapshot (GET /events/snapshot) and follow from its cursor",
                self.0
            )));
        }
        if let Some(first) = first {
            if self.0 + 1 < first {
                return Err(FeedError::Gone(format!(
                    "the cursor is older than the retained log (which starts at sequence \
                     {first}); take a new snapshot (GET /events/snapshot) and follow from its cursor"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        for n in [0, 1, 42, u64::MAX] {
            assert_eq!(Cursor::decode(&Cursor(n).encode()).unwrap(), Cursor(n));
        }
        for bad in [
            "",
            "0",
            "s1.",
            "s1.zz00000000000000",
            "s2.0000000000000001",
            "s1.00000000000000001",
        ] {
            assert!(
                matches!(Cursor::decode(bad), Err(FeedError::BadCursor(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn cursors_outside_the_log_are_gone() {
        assert!(Cursor(5).check(Some(1), 5).is_ok());
        assert!(Cursor(0).check(Some(1), 5).is_ok());
        assert!(Cursor(0).check(None, 0).is_ok());
        assert!(matches!(
            Cursor(6).check(Some(1), 5),
            Err(FeedError::Gone(_))
        ));
        assert!(matches!(
            Cursor(3).check(Some(10), 20),
            Err(FeedError::Gone(_))
        ));
        assert!(Cursor(9).check(Some(10), 20).is_ok());
    }
}
