//! A request that runs to its end even when its client goes away: dropped before it is done
//! (the connection closed, the deadline passed), what is left of it is handed to the runtime
//! as a task of its own. A database transaction therefore never stops between its statements
//! (and never goes back to the pool still open), and a write the service has started is
//! finished either way, without the cost of a task per request in the usual case.
//!
//! A panic while it is polled is caught and returned, so it ends only this request.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

type Work<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a panic left: the payload [`std::panic::catch_unwind`] caught.
pub type Panicked = Box<dyn Any + Send>;

pub struct Uncancellable<T: Send + 'static> {
    /// `None` once finished (or panicked): nothing is left to hand over.
    work: Option<Work<T>>,
}

impl<T: Send + 'static> Uncancellable<T> {
    pub fn new(work: impl Future<Output = T> + Send + 'static) -> Self {
        Uncancellable {
            work: Some(Box::pin(work)),
        }
    }
}

impl<T: Send + 'static> Future for Uncancellable<T> {
    type Output = Result<T, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(work) = self.work.as_mut() else {
            return Poll::Pending;
        };
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(done)) => {
                self.work = None;
                Poll::Ready(Ok(done))
            }
            Err(panicked) => {
                self.work = None;
                Poll::Ready(Err(panicked))
            }
        }
    }
}

impl<T: Send + 'static> Drop for Uncancellable<T> {
    fn drop(&mut self) {
        if let Some(work) = self.work.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(work);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn dropped_work_still_finishes() {
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let work = Uncancellable::new(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            flag.store(true, Ordering::SeqCst);
        });
        // Dropped half way, as when the client disconnects.
        assert!(
            tokio::time::timeout(Duration::from_millis(1), work)
                .await
                .is_err()
        );
        assert!(!finished.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_panic_is_returned_not_spread() {
        let work = Uncancellable::new(async {
            if true {
                panic!("handler bug");
            }
        });
        assert!(work.await.is_err());
    }

    #[tokio::test]
    async fn finished_work_is_returned() {
        assert_eq!(Uncancellable::new(async { 7 }).await.ok(), Some(7));
    }
}
