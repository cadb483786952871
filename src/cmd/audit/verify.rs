//! `keychain audit verify`: every line's MAC, order and chain, across rotated files, and the
//! log's end against its anchor (`ops::audit::verify`). Prints where each problem is, never a
//! line's content. Exit 7 when anything is wrong.

use crate::error::Result;
use crate::exit;
use crate::keychain::Keychain;

pub fn run(kc: &Keychain, json: bool) -> Result<crate::outcome::Outcome> {
    let report = crate::ops::audit::verify::verify(kc)?;
    if json {
        let problems: Vec<serde_json::Value> = report
            .problems
            .iter()
            .map(|p| {
                serde_json::json!({
                    "file": p.file.display().to_string(),
                    "line": p.line,
                    "seq": p.seq,
                    "message": p.to_string(),
                })
            })
            .collect();
        crate::output::raw(
            crate::json::document(serde_json::json!({
                "ok": report.is_ok(),
                "files": report.files,
                "lines": report.lines,
                "anchor_checked": report.anchor_checked,
                "problems": problems,
            }))
            .as_bytes(),
        )?;
    } else {
        let text = report.to_string();
        crate::output::out(&format!("{}\n", text.trim_end()))?;
    }
    if report.is_ok() {
        Ok(crate::outcome::Outcome::Success)
    } else {
        crate::output::err(&format!(
            "error: the audit log does not verify ({}); keep a copy of the keychain folder as it is and investigate\n",
            crate::output::count(report.problems.len(), "problem", "problems")
        ))?;
        Ok(crate::outcome::Outcome::Failed(exit::INTEGRITY))
    }
}
