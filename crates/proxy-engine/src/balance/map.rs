//! `balance static-rr` and map-based hashing (`lb_map.c`): a table of `tot_weight`
//! slots filled by a weighted score walk (`recalc_server_map()`), read in turn or at
//! `hash % tot_weight`. Weights are divided by their greatest common divisor first.

use std::time::Duration;

use super::Balancer;

impl Balancer {
    /// `init_server_map()`.
    pub(super) fn map_init(&mut self) {
        // The GCD of every user weight, skipping leading zero weights as the C does.
        let mut pgcd = 1u32;
        if let Some(first) = self.srvs.iter().position(|s| s.uweight != 0) {
            pgcd = self.srvs[first].uweight;
            for srv in &self.srvs[first + 1..] {
                if pgcd <= 1 {
                    break;
                }
                let mut w = srv.uweight;
                while w != 0 {
                    let t = pgcd % w;
                    pgcd = w;
                    w = t;
                }
            }
        }
        self.prm.wmult = pgcd;
        for srv in &mut self.srvs {
            srv.next_eweight = (srv.uweight * self.prm.wdiv).div_ceil(self.prm.wmult);
            srv.commit();
        }
        self.recount_servers();
        self.update_backend_weight();
        self.recalc_server_map();
    }

    /// `recalc_server_map()`: each slot goes to the usable server (of the active group,
    /// or the backup group when no active server is left) with the best score; ties go to
    /// the first in configuration order.
    fn recalc_server_map(&mut self) {
        if self.prm.tot_used == 0 {
            return;
        }
        let tot = self.prm.tot_weight;
        let want_backup = self.prm.srv_act == 0;
        for srv in &mut self.srvs {
            srv.wscore = 0;
        }
        self.map = vec![None; tot as usize];
        for o in 0..tot as usize {
            let mut max = 0u32;
            let mut best: Option<usize> = None;
            for i in 0..self.srvs.len() {
                let cur = &mut self.srvs[i];
                if cur.backup != want_backup || !cur.willbe_usable() {
                    continue;
                }
                if tot == 1 {
                    best = Some(i);
                    break;
                }
                cur.wscore = cur.wscore.wrapping_add(cur.next_eweight);
                let v = cur.wscore.wrapping_add(tot) / tot;
                if best.is_none() || v > max {
                    max = v;
                    best = Some(i);
                }
            }
            self.map[o] = best;
            if let Some(b) = best {
                self.srvs[b].wscore = self.srvs[b].wscore.wrapping_sub(tot);
            }
        }
    }

    /// `map_set_server_status_down()`.
    pub(super) fn map_set_down(&mut self, s: usize) {
        if !self.srvs[s].status_changed() {
            return;
        }
        if !self.srvs[s].willbe_usable() {
            self.recount_servers();
            self.update_backend_weight();
            self.recalc_server_map();
        }
        self.srvs[s].commit();
    }

    /// `map_set_server_status_up()` (also what a weight change calls: the map has no
    /// weight-update function).
    pub(super) fn map_set_up(&mut self, s: usize) {
        if !self.srvs[s].status_changed() {
            return;
        }
        if self.srvs[s].willbe_usable() {
            self.recount_servers();
            self.update_backend_weight();
            self.recalc_server_map();
        }
        self.srvs[s].commit();
    }

    /// `map_get_server_rr()`: the next slot whose server has room, skipping `avoid`
    /// unless nothing else has room.
    pub(super) fn map_next_rr(&mut self, avoid: Option<usize>, now: Duration) -> Option<usize> {
        let tot = self.prm.tot_weight as usize;
        if tot == 0 || self.map.len() < tot {
            return None;
        }
        if self.rr_idx >= tot {
            self.rr_idx = 0;
        }
        let mut newidx = self.rr_idx;
        let mut avoided = None;
        let mut avoididx = 0;
        loop {
            let slot = self.map[newidx];
            newidx += 1;
            if let Some(s) = slot {
                let srv = &self.srvs[s];
                if srv.maxconn == 0
                    || (srv.queue.is_empty() && srv.served < self.dynamic_maxconn(s, now))
                {
                    avoided = Some(s);
                    avoididx = newidx;
                    if Some(s) != avoid {
                        self.rr_idx = newidx;
                        return Some(s);
                    }
                }
            }
            if newidx == tot {
                newidx = 0;
            }
            if newidx == self.rr_idx {
                break;
            }
        }
        if avoided.is_some() {
            self.rr_idx = avoididx;
        }
        avoided
    }

    /// `map_get_server_hash()`.
    pub(super) fn map_by_hash(&self, hash: u32) -> Option<usize> {
        let tot = self.prm.tot_weight;
        if tot == 0 {
            return None;
        }
        self.map.get((hash % tot) as usize).copied().flatten()
    }
}
