//! [`Context`]: what one test or check runs in: its deadlines, the steps it
//! has taken, and every inbox whose transcript its failure should show.
//! Peers connected through a context log their steps in it.

use std::io;
use std::mem;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::failure::Failure;
use crate::inbox::Inbox;

/// How long [`Context::finish`] waits for inboxes to end.
const TRANSCRIPT_GRACE: Duration = Duration::from_secs(2);

/// The most transcripts a failure shows.
const MAX_TRANSCRIPTS: usize = 8;

/// Shared by the threads of one test (a sender thread, say), hence the
/// mutexes.
#[derive(Debug)]
pub struct Context {
    /// When the whole test must be over.
    deadline: Instant,
    /// The longest wait for any one expected thing.
    step: Duration,
    steps: Mutex<Vec<String>>,
    inboxes: Mutex<Vec<Inbox>>,
    peers_named: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Context {
    /// A context whose waits last at most `step` each, and all of them
    /// together at most `limit`.
    pub fn new(step: Duration, limit: Duration) -> Context {
        Context {
            deadline: Instant::now() + limit,
            step,
            steps: Mutex::new(Vec::new()),
            inboxes: Mutex::new(Vec::new()),
            peers_named: AtomicUsize::new(0),
        }
    }

    /// Records a step, as a failure will list it.
    pub fn step(&self, text: impl Into<String>) {
        lock(&self.steps).push(text.into());
    }

    /// The deadline for the next wait: one step from now, but never past
    /// the test's own deadline.
    pub fn until(&self) -> Instant {
        (Instant::now() + self.step).min(self.deadline)
    }

    /// Collects what `reader` delivers, and remembers it for the
    /// transcripts.
    pub fn watch(&self, name: impl Into<String>, reader: impl io::Read + Send + 'static) -> Inbox {
        let inbox = Inbox::spawn(name, reader);
        lock(&self.inboxes).push(inbox.clone());
        inbox
    }

    /// The next free peer name: A, B, C, ..., Z, then P27, P28, ...
    pub fn next_peer_name(&self) -> String {
        let n = self.peers_named.fetch_add(1, Ordering::Relaxed);
        match u8::try_from(n) {
            Ok(n) if n < 26 => char::from(b'A' + n).to_string(),
            _ => format!("P{}", n + 1),
        }
    }

    /// Completes a failure with the steps taken and the transcripts.
    ///
    /// Call it once the test's processes and peers are gone (dropped): their
    /// inboxes then end at once, and the transcripts are complete (a panic
    /// message written just before a process died included). An inbox still
    /// open after TRANSCRIPT_GRACE (held by an escaped grandchild, say) is
    /// shown as it is.
    pub fn finish(&self, mut failure: Failure) -> Failure {
        failure.steps = mem::take(&mut *lock(&self.steps));
        let inboxes = lock(&self.inboxes);
        let until = Instant::now() + TRANSCRIPT_GRACE;
        for inbox in inboxes.iter() {
            inbox.wait_ended(until);
        }
        for inbox in inboxes.iter().take(MAX_TRANSCRIPTS) {
            failure
                .transcripts
                .push((inbox.name().to_owned(), inbox.transcript()));
        }
        if inboxes.len() > MAX_TRANSCRIPTS {
            failure.transcripts.push((
                format!("{} more", inboxes.len() - MAX_TRANSCRIPTS),
                "(not shown)".to_owned(),
            ));
        }
        failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_named_by_letter_then_by_number() {
        let context = Context::new(Duration::from_secs(1), Duration::from_secs(1));
        let names: Vec<String> = (0..28).map(|_| context.next_peer_name()).collect();
        assert_eq!(names[0], "A");
        assert_eq!(names[25], "Z");
        assert_eq!(names[26], "P27");
    }

    #[test]
    fn a_wait_never_ends_past_the_whole_deadline() {
        let context = Context::new(Duration::from_secs(60), Duration::from_millis(10));
        assert!(context.until() <= Instant::now() + Duration::from_millis(10));
    }
}
