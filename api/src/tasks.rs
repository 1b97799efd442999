//! Background work (catalog polling, announcements, scan flushing) runs under a supervisor: a
//! fault in one round of it is logged and the task starts again, so no background panic can
//! leave an instance serving a catalog that never refreshes, nor end the process.

use std::future::Future;
use std::time::Duration;

/// How long a supervisor waits before starting a task that failed.
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// Runs `task` in the background, starting it again whenever it panics. A task that returns is
/// done and is not started again.
pub fn supervise<F, Fut>(name: &'static str, task: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match tokio::spawn(task()).await {
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    tracing::error!(task = name, "background task failed; starting it again");
                    tokio::time::sleep(RESTART_AFTER).await;
                }
                Err(_) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_task_that_panics_is_started_again() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        supervise("test", move || {
            let runs = counted.clone();
            async move {
                if runs.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("a fault in the task");
                }
            }
        });
        tokio::time::sleep(RESTART_AFTER * 3).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "two faults, then a run that ends");
    }
}
