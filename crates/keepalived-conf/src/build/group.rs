//! `vrrp_sync_group NAME { group { ... } ... }`.

use super::instance::{notify_command, track_entry};
use super::Ctx;
use crate::model::SyncGroup;
use crate::status::ConfigErr;
use crate::syntax::Node;

pub(super) fn sync_group(ctx: &mut Ctx<'_>, node: &Node) {
    let Some(name) = ctx.arg(node, 1).map(|w| w.text.clone()) else {
        return;
    };
    let mut group = SyncGroup {
        name: name.clone(),
        instances: Vec::new(),
        notify: Default::default(),
        smtp_alert: None,
        global_tracking: false,
        sync_group_tracking_weight: false,
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        track_files: Vec::new(),
        track_processes: Vec::new(),
    };
    for item in node.children() {
        match item.name() {
            "group" => {
                // keepalived's read_value_block(): every word of every line is a member.
                group
                    .instances
                    .extend(item.args().iter().map(|w| w.text.clone()));
                for line in item.children() {
                    group
                        .instances
                        .extend(line.line.words.iter().map(|w| w.text.clone()));
                }
            }
            "notify" | "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" => {
                if let Some(command) = notify_command(ctx, item) {
                    let slot = match item.name() {
                        "notify" => &mut group.notify.any,
                        "notify_master" => &mut group.notify.master,
                        "notify_backup" => &mut group.notify.backup,
                        "notify_fault" => &mut group.notify.fault,
                        _ => &mut group.notify.stop,
                    };
                    *slot = Some(command);
                }
            }
            "smtp_alert" => group.smtp_alert = ctx.boolean(item, "vrrp_group smtp_alert"),
            "global_tracking" => group.global_tracking = true,
            "sync_group_tracking_weight" => group.sync_group_tracking_weight = true,
            kind @ ("track_interface" | "track_script" | "track_file" | "track_process") => {
                for line in item.children() {
                    if let Some(t) = track_entry(ctx, &name, line, kind) {
                        match kind {
                            "track_interface" => group.track_interfaces.push(t),
                            "track_script" => group.track_scripts.push(t),
                            "track_file" => group.track_files.push(t),
                            _ => group.track_processes.push(t),
                        }
                    }
                }
            }
            _ => ctx.other("vrrp_sync_group", item),
        }
    }
    if ctx.config.sync_groups.iter().any(|g| g.name == name) {
        ctx.error(
            node.span(),
            ConfigErr::GeneralError,
            format!("vrrp sync group {name} already defined"),
        );
        return;
    }
    ctx.config.sync_groups.push(group);
}
