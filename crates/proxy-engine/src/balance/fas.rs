//! `balance first` (`lb_fas.c`): servers in a tree keyed by their id (`puid`); the
//! first one with a free `maxconn` slot takes the connection. State changes share
//! `fwlc.rs`'s `tree_*` bookkeeping.

use std::time::Duration;

use super::Balancer;

impl Balancer {
    /// `fas_srv_reposition()`: out of the tree and back in (same key: it only moves
    /// behind equal ids, which cannot exist).
    pub(super) fn fas_reposition(&mut self, s: usize) {
        let Some(tree) = self.srvs[s].lb_tree else {
            return;
        };
        if let Some((t, node)) = self.srvs[s].node.take() {
            self.trees[t].remove(node);
        }
        let node = self.trees[tree].insert(self.srvs[s].puid, (s, 0));
        self.srvs[s].node = Some((tree, node));
    }

    /// `fas_get_next_server()`.
    pub(super) fn fas_next(&mut self, avoid: Option<usize>, now: Duration) -> Option<usize> {
        let tree = if self.prm.srv_act > 0 {
            0
        } else if let Some(f) = self.prm.fbck {
            return Some(f);
        } else if self.prm.srv_bck > 0 {
            1
        } else {
            return None;
        };
        let mut avoided = None;
        let mut cur = self.trees[tree].first();
        while let Some((node, (s, _))) = cur {
            let srv = &self.srvs[s];
            if srv.maxconn == 0
                || (srv.queue.is_empty() && srv.served < self.dynamic_maxconn(s, now))
            {
                if Some(s) != avoid {
                    return Some(s);
                }
                avoided = Some(s);
            }
            cur = self.trees[tree].next(node);
        }
        avoided
    }
}
