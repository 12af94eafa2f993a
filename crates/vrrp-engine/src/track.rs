//! Tracked objects: the ids and states the tracking runner reports and the state machine
//! weighs. Every `vrrp_script`, `vrrp_track_process`, `track_file` and tracked interface of
//! a configuration gets one [`TrackerId`] in a [`TrackerTable`].

use keepalived_conf::model::KeepalivedConfig;

/// Index of a tracker in its [`TrackerTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackerId(pub usize);

/// What a tracker reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackerState {
    /// Script succeeded `rise` times / process quorum met / interface up.
    Ok,
    /// Script failed `fall` times / quorum lost / interface down.
    Failed,
    /// `track_file`: the number read from the file (multiplied by the weight).
    Value(i64),
}

/// What is tracked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TrackerKind {
    /// `vrrp_script NAME`.
    Script(String),
    /// `vrrp_track_process NAME`.
    Process(String),
    /// `track_file NAME` (`vrrp_track_file`).
    File(String),
    /// An interface in `track_interface` (or the instance's own interface).
    Interface(String),
}

/// All trackers of a configuration, each once, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackerTable {
    /// Indexed by [`TrackerId`].
    pub trackers: Vec<TrackerKind>,
}

impl TrackerTable {
    /// Every script, tracked process and tracked file the configuration defines, then every
    /// interface an instance tracks (its own `interface` first), then every interface a
    /// sync group tracks.
    pub fn from_config(config: &KeepalivedConfig) -> TrackerTable {
        let mut table = TrackerTable::default();
        for s in &config.scripts {
            table.insert(TrackerKind::Script(s.name.clone()));
        }
        for p in &config.track_processes {
            table.insert(TrackerKind::Process(p.name.clone()));
        }
        for f in &config.track_files {
            table.insert(TrackerKind::File(f.name.clone()));
        }
        for i in &config.instances {
            table.insert(TrackerKind::Interface(i.interface.clone()));
            for t in &i.track_interfaces {
                table.insert(TrackerKind::Interface(t.name.clone()));
            }
        }
        for g in &config.sync_groups {
            for t in &g.track_interfaces {
                table.insert(TrackerKind::Interface(t.name.clone()));
            }
        }
        table
    }

    fn insert(&mut self, kind: TrackerKind) -> TrackerId {
        if let Some(id) = self.id(&kind) {
            return id;
        }
        self.trackers.push(kind);
        TrackerId(self.trackers.len() - 1)
    }

    /// The id of `kind`, if the table has it.
    pub fn id(&self, kind: &TrackerKind) -> Option<TrackerId> {
        self.trackers.iter().position(|k| k == kind).map(TrackerId)
    }

    /// The tracker with this id.
    pub fn get(&self, id: TrackerId) -> Option<&TrackerKind> {
        self.trackers.get(id.0)
    }
}
