//! `balance leastconn` (`lb_fwlc.c`): servers in a tree keyed by
//! `(in flight + 1) * SRV_EWGHT_MAX / eweight` (0 when idle); the first with room wins.
//! Equal keys keep insertion order and a server is reinserted every time its count
//! changes, so idle servers take turns.
//!
//! The state functions below (`tree_*`) are shared with `first` and the consistent-hash
//! ring: `lb_fwlc.c`, `lb_fas.c` and `lb_chash.c` repeat the same bookkeeping and differ
//! only in how a server is put into and taken out of its tree (`lb_queue`/`lb_unqueue`).

use std::time::Duration;

use super::{Balancer, Lookup, BE_WEIGHT_SCALE, SRV_EWGHT_MAX};

impl Balancer {
    /// `fwlc_init_server_tree()` / `fas_init_server_tree()`.
    pub(super) fn tree_init(&mut self) {
        self.prm.wdiv = BE_WEIGHT_SCALE;
        for srv in &mut self.srvs {
            srv.next_eweight = (srv.uweight * self.prm.wdiv).div_ceil(self.prm.wmult);
            srv.commit();
        }
        self.recount_servers();
        self.update_backend_weight();
        for s in 0..self.srvs.len() {
            if !self.srvs[s].currently_usable() {
                continue;
            }
            self.srvs[s].lb_tree = Some(usize::from(self.srvs[s].backup));
            self.lb_queue(s);
        }
    }

    fn fwlc_key(&self, s: usize, eweight: u32) -> u32 {
        let srv = &self.srvs[s];
        let inflight = srv.served + srv.queue.len() as u32;
        if inflight == 0 {
            0
        } else {
            // u32 as in the C: (inflight + 1) * 4096 overflows only past a million
            // connections on one server.
            (inflight.wrapping_add(1)).wrapping_mul(SRV_EWGHT_MAX) / eweight.max(1)
        }
    }

    /// Puts the server into its tree (`fwlc_queue_srv()`, `fas_queue_srv()`,
    /// `chash_queue_dequeue_srv()`).
    fn lb_queue(&mut self, s: usize) {
        match self.lookup {
            Lookup::Chash => self.chash_requeue(s),
            _ => {
                let Some(tree) = self.srvs[s].lb_tree else {
                    return;
                };
                let key = match self.lookup {
                    Lookup::First => self.srvs[s].puid,
                    _ => self.fwlc_key(s, self.srvs[s].next_eweight),
                };
                let node = self.trees[tree].insert(key, (s, 0));
                self.srvs[s].node = Some((tree, node));
            }
        }
    }

    /// Takes the server out of its tree (`*_dequeue_srv()`).
    fn lb_unqueue(&mut self, s: usize) {
        match self.lookup {
            Lookup::Chash => self.chash_dequeue(s),
            _ => {
                if let Some((tree, node)) = self.srvs[s].node.take() {
                    self.trees[tree].remove(node);
                }
            }
        }
    }

    /// `fwlc_srv_reposition()`: after a connection starts or ends.
    pub(super) fn fwlc_reposition(&mut self, s: usize) {
        let eweight = self.srvs[s].cur_eweight;
        let new_key = self.fwlc_key(s, eweight);
        if let Some((_, node)) = self.srvs[s].node {
            if eweight != 0 && node.key == new_key {
                return;
            }
        }
        let Some(tree) = self.srvs[s].lb_tree else {
            return;
        };
        if let Some((t, node)) = self.srvs[s].node.take() {
            self.trees[t].remove(node);
        }
        let node = self.trees[tree].insert(new_key, (s, 0));
        self.srvs[s].node = Some((tree, node));
    }

    /// `*_set_server_status_down()` of fwlc, fas and chash.
    pub(super) fn tree_set_down(&mut self, s: usize) {
        if !self.srvs[s].status_changed() {
            return;
        }
        if self.srvs[s].willbe_usable() {
            self.srvs[s].commit();
            return;
        }
        if self.srvs[s].currently_usable() {
            let w = self.srvs[s].cur_eweight;
            if self.srvs[s].backup {
                self.prm.tot_wbck = self.prm.tot_wbck.wrapping_sub(w);
                self.prm.srv_bck -= 1;
                if self.prm.fbck == Some(s) {
                    self.prm.fbck = self.fbck_after_loss(s);
                }
            } else {
                self.prm.tot_wact = self.prm.tot_wact.wrapping_sub(w);
                self.prm.srv_act -= 1;
            }
            self.lb_unqueue(s);
            if self.lookup != Lookup::Chash {
                self.srvs[s].lb_tree = None;
            }
        }
        self.update_backend_weight();
        self.srvs[s].commit();
    }

    /// `*_set_server_status_up()` of fwlc, fas and chash.
    pub(super) fn tree_set_up(&mut self, s: usize) {
        if !self.srvs[s].status_changed() {
            return;
        }
        if !self.srvs[s].willbe_usable() {
            self.srvs[s].commit();
            return;
        }
        if !self.srvs[s].currently_usable() {
            let w = self.srvs[s].next_eweight;
            if self.srvs[s].backup {
                self.srvs[s].lb_tree = Some(1);
                self.prm.tot_wbck = self.prm.tot_wbck.wrapping_add(w);
                self.prm.srv_bck += 1;
                self.fbck_after_gain(s);
            } else {
                self.srvs[s].lb_tree = Some(0);
                self.prm.tot_wact = self.prm.tot_wact.wrapping_add(w);
                self.prm.srv_act += 1;
            }
            self.lb_queue(s);
        }
        self.update_backend_weight();
        self.srvs[s].commit();
    }

    /// `*_update_server_weight()` of fwlc, fas and chash for a server usable before and
    /// after the change.
    pub(super) fn tree_reweight(&mut self, s: usize) {
        let (cur, next) = (self.srvs[s].cur_eweight, self.srvs[s].next_eweight);
        if self.lookup != Lookup::Chash {
            self.lb_unqueue(s);
            self.srvs[s].lb_tree = Some(usize::from(self.srvs[s].backup));
        }
        self.lb_queue(s);
        if self.srvs[s].backup {
            self.prm.tot_wbck = self.prm.tot_wbck.wrapping_add(next).wrapping_sub(cur);
        } else {
            self.prm.tot_wact = self.prm.tot_wact.wrapping_add(next).wrapping_sub(cur);
        }
        self.update_backend_weight();
        self.srvs[s].commit();
    }

    /// `fwlc_get_next_server()`: the least loaded server; with `maxconn`, one whose
    /// connections and queue stay under `maxconn + maxqueue`.
    pub(super) fn fwlc_next(&mut self, avoid: Option<usize>, now: Duration) -> Option<usize> {
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
            let inflight = srv.served + srv.queue.len() as u32;
            if srv.maxconn == 0 || inflight < self.dynamic_maxconn(s, now) + srv.maxqueue {
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
