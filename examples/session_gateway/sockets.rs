//! The open sockets by subject, each with its id and the handle that closes it.

use std::collections::HashMap;

use tokio::sync::oneshot;

#[derive(Default)]
pub struct Sockets {
    by_subject: HashMap<String, Vec<(u64, oneshot::Sender<()>)>>,
    next_id: u64,
    /// Counts revocation events: an admission tells by it whether one came as it checked.
    pub epoch: u64,
}

impl Sockets {
    /// Registers a socket for `sub`, unless a revocation event came since `epoch`.
    pub fn register(&mut self, sub: &str, epoch: u64) -> Option<(u64, oneshot::Receiver<()>)> {
        if self.epoch != epoch {
            return None;
        }
        self.next_id += 1;
        let (close, closed) = oneshot::channel();
        let sockets = self.by_subject.entry(sub.to_owned()).or_default();
        sockets.push((self.next_id, close));
        Some((self.next_id, closed))
    }

    pub fn forget(&mut self, sub: &str, id: u64) {
        if let Some(sockets) = self.by_subject.get_mut(sub) {
            sockets.retain(|(socket, _)| *socket != id);
            if sockets.is_empty() {
                self.by_subject.remove(sub);
            }
        }
    }

    /// Closes the sockets of `sub`, or every socket; returns how many.
    pub fn close(&mut self, sub: Option<&str>) -> usize {
        self.epoch += 1;
        let closing: Vec<_> = match sub {
            Some(sub) => self.by_subject.remove(sub).unwrap_or_default(),
            None => self.by_subject.drain().flat_map(|(_, all)| all).collect(),
        };
        let count = closing.len();
        for (_, close) in closing {
            // A socket that ended meanwhile has dropped its receiver: nothing to close.
            let _ = close.send(());
        }
        count
    }
}
