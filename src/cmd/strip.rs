//! `keychain import SETTINGS.xml --strip`: the second half of an import, which moves the
//! plain-text secrets out of the settings file, and only those the keychain now holds. What is
//! moved and how is `ops::transfer::import`'s (over `transfer::strip`); this file renders it: each
//! value moved and each left (never shown), then the backup and what is left to do.

use std::path::Path;

use crate::invantive::SettingsFile;
use crate::ops::transfer::{StripPlan, Stripped};

/// The strip's plan, before the file is touched: each value to be moved and each left, named by
/// line and key.
pub fn plan(given: &Path, file: &SettingsFile, plan: &StripPlan) {
    let shown = file.path.display();
    let mut report = String::new();
    for m in &plan.moved {
        report.push_str(&format!(
            "moved     {shown}:{}  {}  to {} {}\n",
            m.spot.line, m.spot.key, m.account, m.field
        ));
    }
    for spot in &plan.left {
        report.push_str(&format!(
            "left      {shown}:{}  {}  (not in the keychain with this value)\n",
            spot.line, spot.key
        ));
    }
    crate::output::after_save(crate::output::out(&report));
    if plan.through_link {
        crate::output::after_save(crate::output::err(&format!(
            "note: {} is a symbolic link; its target {shown} is the file rewritten, and the link stays.\n",
            given.display()
        )));
    }
}

/// The strip done: the backup and what is left to do. Returns whether every secret of the file
/// was moved.
pub fn outcome(file: &SettingsFile, stripped: &Stripped) -> bool {
    let (plan, shown) = (&stripped.plan, file.path.display());
    let Some(backup) = &stripped.backup else {
        crate::output::after_save(crate::output::err(&format!(
            "warning: {shown} was not stripped: none of its secrets is in the keychain with the value it has in the file\n"
        )));
        return plan.left.is_empty();
    };
    crate::output::after_save(crate::output::err(&format!(
        "Removed {} from {shown}. The original is kept as {} (mode 0600): it still holds them; delete it once the import is checked.\n",
        crate::output::count(plan.moved.len(), "value", "values"),
        backup.display()
    )));
    if !plan.left.is_empty() {
        crate::output::after_save(crate::output::err(&format!(
            "warning: {} left in {shown}: import them (--replace for existing accounts, or by hand) and strip again\n",
            match plan.left.len() {
                1 => "1 secret was".to_string(),
                n => format!("{n} secrets were"),
            }
        )));
    }
    plan.left.is_empty()
}
