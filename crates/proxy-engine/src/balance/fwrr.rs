//! `balance roundrobin`: HAProxy's fast weighted round robin (`lb_fwrr.c`), transcribed
//! function by function because the server sequence depends on every detail: positions
//! (`npos`/`lpos`/`rweight`) in a "current" tree keyed by position and weight, servers
//! waiting in an "init" and a "next" tree keyed by weight, and the trees switching when
//! a window of `curr_weight` positions is used up. Arithmetic is `u32` wrapping, as the
//! C's mix of `int` and `unsigned` behaves.

use std::time::Duration;

use super::{Balancer, SRV_EWGHT_MAX};
use super::{BE_WEIGHT_SCALE, MAX_WEIGHT};

/// `struct fwrr_group`: the trees of the active or the backup servers. Trees live in
/// `Balancer::trees` at `base` (t0), `base + 1` (t1) and `base + 2` (curr).
#[derive(Debug, Clone)]
pub(super) struct Group {
    base: usize,
    init: usize,
    next: usize,
    curr_pos: u32,
    curr_weight: u32,
    next_weight: u32,
}

impl Group {
    pub(super) fn new(base: usize) -> Group {
        Group {
            base,
            init: base,
            next: base + 1,
            curr_pos: 0,
            curr_weight: 0,
            next_weight: 0,
        }
    }

    fn curr(&self) -> usize {
        self.base + 2
    }
}

impl Balancer {
    fn grp_of(&self, s: usize) -> usize {
        usize::from(self.srvs[s].backup)
    }

    /// `fwrr_init_server_groups()`.
    pub(super) fn fwrr_init(&mut self) {
        self.prm.wdiv = BE_WEIGHT_SCALE;
        for srv in &mut self.srvs {
            srv.next_eweight = (srv.uweight * self.prm.wdiv).div_ceil(self.prm.wmult);
            srv.commit();
        }
        self.recount_servers();
        self.update_backend_weight();
        for (g, total) in [(0, self.prm.tot_wact), (1, self.prm.tot_wbck)] {
            let grp = &mut self.fwrr[g];
            grp.curr_pos = total;
            grp.curr_weight = total;
            grp.next_weight = total;
            grp.init = grp.base;
            grp.next = grp.base + 1;
        }
        for s in 0..self.srvs.len() {
            if !self.srvs[s].currently_usable() {
                continue;
            }
            let init = self.fwrr[self.grp_of(s)].init;
            self.fwrr_queue_by_weight(init, s);
        }
    }

    fn fwrr_dequeue(&mut self, s: usize) {
        if let Some((tree, node)) = self.srvs[s].node.take() {
            self.trees[tree].remove(node);
        }
    }

    fn fwrr_queue_by_weight(&mut self, tree: usize, s: usize) {
        let key = SRV_EWGHT_MAX.wrapping_sub(self.srvs[s].next_eweight);
        let node = self.trees[tree].insert(key, (s, 0));
        self.srvs[s].node = Some((tree, node));
        self.srvs[s].lb_tree = Some(tree);
    }

    /// `fwrr_queue_srv()`.
    fn fwrr_queue_srv(&mut self, s: usize) {
        let g = self.grp_of(s);
        let grp = self.fwrr[g].clone();
        let srv = &self.srvs[s];
        if !srv.willbe_usable() {
            self.srvs[s].lb_tree = None;
        } else if srv.next_eweight == 0
            || srv.npos >= grp.curr_weight.wrapping_mul(2)
            || srv.npos >= grp.curr_weight.wrapping_add(grp.next_weight)
        {
            self.srvs[s].npos = srv.npos.wrapping_sub(grp.curr_weight);
            self.fwrr_queue_by_weight(grp.next, s);
        } else {
            // Position first, then the remainder and the weight as tie-breakers.
            let key = (MAX_WEIGHT.wrapping_mul(srv.npos)).wrapping_add(
                SRV_EWGHT_MAX
                    .wrapping_add(srv.rweight)
                    .wrapping_sub(srv.next_eweight)
                    / BE_WEIGHT_SCALE,
            );
            let curr = grp.curr();
            let node = self.trees[curr].insert(key, (s, 0));
            self.srvs[s].node = Some((curr, node));
            self.srvs[s].lb_tree = Some(curr);
        }
    }

    /// `fwrr_get_srv()`: prepares `npos` according to the tree the server comes from.
    fn fwrr_get_srv(&mut self, s: usize) {
        let grp = &self.fwrr[self.grp_of(s)];
        let (init, next, curr_weight, curr_pos) =
            (grp.init, grp.next, grp.curr_weight, grp.curr_pos);
        let srv = &mut self.srvs[s];
        match srv.lb_tree {
            Some(t) if t == init => {
                srv.npos = 0;
                srv.rweight = 0;
            }
            Some(t) if t == next => srv.npos = srv.npos.wrapping_add(curr_weight),
            None => srv.npos = curr_pos,
            Some(_) => {}
        }
    }

    fn fwrr_switch_trees(&mut self, g: usize) {
        let grp = &mut self.fwrr[g];
        std::mem::swap(&mut grp.init, &mut grp.next);
        grp.curr_weight = grp.next_weight;
        grp.curr_pos = grp.curr_weight;
    }

    /// `fwrr_get_server_from_group()`.
    fn fwrr_server_from_group(&mut self, g: usize) -> Option<usize> {
        let grp = self.fwrr[g].clone();
        let s1 = self.trees[grp.curr()].first().map(|(_, (s, _))| s);
        if let Some(s1) = s1 {
            let srv = &self.srvs[s1];
            if srv.cur_eweight != 0 && srv.npos <= grp.curr_pos {
                return Some(s1);
            }
        }
        if let Some((_, (s2, _))) = self.trees[grp.init].first() {
            if self.srvs[s2].cur_eweight != 0 {
                self.srvs[s2].npos = 0;
                self.srvs[s2].rweight = 0;
                return Some(s2);
            }
        }
        s1
    }

    /// `fwrr_update_position()`.
    fn fwrr_update_position(&mut self, g: usize, s: usize) {
        let (curr_pos, next_weight) = (self.fwrr[g].curr_pos, self.fwrr[g].next_weight);
        let srv = &mut self.srvs[s];
        let eweight = srv.cur_eweight;
        if eweight == 0 {
            return;
        }
        if srv.npos == 0 {
            srv.npos = curr_pos;
        }
        srv.lpos = srv.npos;
        srv.npos = srv.npos.wrapping_add(next_weight / eweight);
        srv.rweight = srv.rweight.wrapping_add(next_weight % eweight);
        if srv.rweight >= eweight {
            srv.rweight -= eweight;
            srv.npos = srv.npos.wrapping_add(1);
        }
    }

    /// `fwrr_get_next_server()`.
    pub(super) fn fwrr_next(&mut self, avoid: Option<usize>, now: Duration) -> Option<usize> {
        let g = if self.prm.srv_act > 0 {
            0
        } else if let Some(f) = self.prm.fbck {
            return Some(f);
        } else if self.prm.srv_bck > 0 {
            1
        } else {
            return None;
        };
        let mut switched = false;
        let mut avoided: Option<usize> = None;
        let mut full: Vec<usize> = Vec::new();
        let srv: Option<usize>;
        let mut take = true;
        loop {
            if self.fwrr[g].curr_weight == 0 {
                self.fwrr[g].curr_weight = self.fwrr[g].next_weight;
                self.fwrr[g].curr_pos = self.fwrr[g].next_weight;
            }
            let mut picked = None;
            loop {
                if let Some(s) = self.fwrr_server_from_group(g) {
                    picked = Some(s);
                    break;
                }
                if switched {
                    break;
                }
                switched = true;
                self.fwrr_switch_trees(g);
            }
            let Some(s) = picked else {
                // Nothing left: the avoided server if there was one, else none.
                srv = avoided;
                take = avoided.is_some();
                break;
            };
            self.fwrr_update_position(g, s);
            self.fwrr_dequeue(s);
            self.fwrr[g].curr_pos = self.fwrr[g].curr_pos.wrapping_add(1);
            let x = &self.srvs[s];
            if x.maxconn == 0 || (x.queue.is_empty() && x.served < self.dynamic_maxconn(s, now)) {
                if Some(s) != avoid || avoided.is_some() {
                    srv = Some(s);
                    break;
                }
                avoided = Some(s);
            }
            full.push(s);
        }
        if take {
            if let Some(s) = srv {
                self.fwrr_queue_srv(s);
            }
        }
        // The C chains saturated servers by prepending: they are requeued newest first.
        for &f in full.iter().rev() {
            if Some(f) == srv {
                continue;
            }
            if switched {
                let init = self.fwrr[g].init;
                self.fwrr_queue_by_weight(init, f);
            } else {
                self.fwrr_queue_srv(f);
            }
        }
        srv
    }

    /// `fwrr_set_server_status_down()`.
    pub(super) fn fwrr_set_down(&mut self, s: usize) {
        if !self.srvs[s].status_changed() {
            return;
        }
        if self.srvs[s].willbe_usable() {
            self.srvs[s].commit();
            return;
        }
        if self.srvs[s].currently_usable() {
            let g = self.grp_of(s);
            self.fwrr[g].next_weight = self.fwrr[g]
                .next_weight
                .wrapping_sub(self.srvs[s].cur_eweight);
            if self.srvs[s].backup {
                self.prm.tot_wbck = self.fwrr[1].next_weight;
                self.prm.srv_bck -= 1;
                if self.prm.fbck == Some(s) {
                    self.prm.fbck = self.fbck_after_loss(s);
                }
            } else {
                self.prm.tot_wact = self.fwrr[0].next_weight;
                self.prm.srv_act -= 1;
            }
            self.fwrr_dequeue(s);
            self.srvs[s].lb_tree = None;
        }
        self.update_backend_weight();
        self.srvs[s].commit();
    }

    /// `fwrr_set_server_status_up()`.
    pub(super) fn fwrr_set_up(&mut self, s: usize) {
        if !self.srvs[s].status_changed() {
            return;
        }
        if !self.srvs[s].willbe_usable() {
            self.srvs[s].commit();
            return;
        }
        if !self.srvs[s].currently_usable() {
            let g = self.grp_of(s);
            self.fwrr[g].next_weight = self.fwrr[g]
                .next_weight
                .wrapping_add(self.srvs[s].next_eweight);
            if self.srvs[s].backup {
                self.prm.tot_wbck = self.fwrr[1].next_weight;
                self.prm.srv_bck += 1;
                self.fbck_after_gain(s);
            } else {
                self.prm.tot_wact = self.fwrr[0].next_weight;
                self.prm.srv_act += 1;
            }
            self.fwrr_get_srv(s);
            let grp = &self.fwrr[g];
            let step = grp
                .next_weight
                .wrapping_add(grp.curr_weight)
                .wrapping_sub(grp.curr_pos)
                / self.srvs[s].next_eweight;
            self.srvs[s].npos = grp.curr_pos.wrapping_add(step);
            self.fwrr_queue_srv(s);
        }
        self.update_backend_weight();
        self.srvs[s].commit();
    }

    /// `fwrr_update_server_weight()` for a server usable before and after.
    pub(super) fn fwrr_reweight(&mut self, s: usize) {
        let g = self.grp_of(s);
        let (cur, next) = (self.srvs[s].cur_eweight, self.srvs[s].next_eweight);
        self.fwrr[g].next_weight = self.fwrr[g]
            .next_weight
            .wrapping_sub(cur)
            .wrapping_add(next);
        self.prm.tot_wact = self.fwrr[0].next_weight;
        self.prm.tot_wbck = self.fwrr[1].next_weight;
        let grp = self.fwrr[g].clone();
        if self.srvs[s].lb_tree == Some(grp.init) {
            self.fwrr_dequeue(s);
            self.fwrr_queue_by_weight(grp.init, s);
        } else if self.srvs[s].lb_tree.is_none() {
            self.fwrr_dequeue(s);
            self.fwrr_get_srv(s);
            let grp = &self.fwrr[g];
            let step = grp
                .next_weight
                .wrapping_add(grp.curr_weight)
                .wrapping_sub(grp.curr_pos)
                / next;
            self.srvs[s].npos = grp.curr_pos.wrapping_add(step);
            self.fwrr_queue_srv(s);
        } else {
            self.fwrr_get_srv(s);
            let grp = self.fwrr[g].clone();
            let srv = &mut self.srvs[s];
            if let Some(step) = grp.next_weight.checked_div(next) {
                let prev_next = srv.npos;
                srv.npos = srv.lpos.wrapping_add(step);
                srv.rweight = 0;
                if srv.npos > prev_next {
                    srv.npos = prev_next;
                }
                if srv.npos < grp.curr_pos.wrapping_add(2) {
                    srv.npos = grp.curr_pos.wrapping_add(step);
                }
            } else {
                // Weight 0: pushed into the next tree.
                srv.npos = grp.curr_pos.wrapping_add(grp.curr_weight);
            }
            self.fwrr_dequeue(s);
            self.fwrr_queue_srv(s);
        }
        self.update_backend_weight();
        self.srvs[s].commit();
    }
}
