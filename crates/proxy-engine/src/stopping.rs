//! The process-wide "soft stop in progress" flag HAProxy keeps in each proxy's
//! `PR_FL_STOPPED`: once set, `mode http` client connections stop being kept alive
//! (`h1_set_cli_conn_mode()` switches to close mode, so the response in progress says
//! `connection: close`). That lets the process of the old configuration end soon after a
//! reload while every request it took is answered. Unlike HAProxy 2.6 (without `option
//! idle-close-on-response`), a connection idle between two requests is not released at
//! once: its next request is answered (with `connection: close`), so a client that sends
//! it at the moment of the reload does not lose it. At `hard-stop-after` the engine
//! kills the sessions under way and [`Stopping::hard_stopped`] releases the idle ones.

use std::sync::Arc;

/// Shared by the engine and every `mode http` route of one configuration.
#[derive(Debug, Clone)]
pub struct Stopping(Arc<tokio::sync::watch::Sender<Stage>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Running,
    Soft,
    Hard,
}

impl Default for Stopping {
    fn default() -> Stopping {
        Stopping(Arc::new(tokio::sync::watch::Sender::new(Stage::Running)))
    }
}

impl Stopping {
    /// The soft stop begins.
    pub fn begin(&self) {
        self.0.send_if_modified(|stage| raise(stage, Stage::Soft));
    }

    /// `hard-stop-after` has run out: connections idle between requests are released.
    pub fn hard_stop(&self) {
        self.0.send_if_modified(|stage| raise(stage, Stage::Hard));
    }

    pub fn is_stopping(&self) -> bool {
        *self.0.borrow() >= Stage::Soft
    }

    /// Resolves once the hard stop has come (at once if it has).
    pub async fn hard_stopped(&self) {
        let mut stage = self.0.subscribe();
        // The sender lives as long as `self`: `wait_for` cannot fail while we wait.
        let _ = stage.wait_for(|s| *s == Stage::Hard).await;
    }
}

fn raise(stage: &mut Stage, to: Stage) -> bool {
    let raised = *stage < to;
    if raised {
        *stage = to;
    }
    raised
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_stop_and_the_hard_stop_wakes_idle_waiters() {
        let engine = Stopping::default();
        let route = engine.clone();
        assert!(!route.is_stopping());
        let idle = tokio::spawn({
            let route = route.clone();
            async move { route.hard_stopped().await }
        });
        engine.begin();
        assert!(route.is_stopping());
        tokio::task::yield_now().await;
        assert!(!idle.is_finished(), "a soft stop leaves idle connections");
        engine.hard_stop();
        tokio::time::timeout(std::time::Duration::from_secs(5), idle)
            .await
            .expect("the hard stop wakes idle connections")
            .expect("no panic");
        engine.begin();
        assert!(
            route.is_stopping(),
            "a later soft stop does not undo the hard one"
        );
        tokio::time::timeout(std::time::Duration::from_secs(5), route.hard_stopped())
            .await
            .expect("later waits return at once");
        assert!(
            !Stopping::default().is_stopping(),
            "another configuration's is apart"
        );
    }
}
