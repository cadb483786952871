//! `keychain member add|join|list|rm`: parse, call one of [`crate::ops::members`], render.

use clap::{Args, Subcommand};

use crate::cmd::Ctx;
use crate::error::Result;
use crate::ops::members::{self, AddOptions, Change};
use crate::outcome::Outcome;

#[derive(Debug, Args)]
pub struct MemberArgs {
    #[command(subcommand)]
    pub command: MemberCommand,
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a machine by its public key (what 'init --join' printed there), then seal every record to it too; prints the join code that machine needs ('member join CODE')
    Add(MemberAddArgs),
    /// On a machine that ran 'init --join' and was added: check the store against the join code 'member add' printed on the member that added it, and trust only that
    Join(MemberJoinArgs),
    /// List the members: name, public key, added when and by whom
    List,
    /// Remove a member: a new group key it cannot open, every record sealed again without it; then rotate what it could read ('keychain audit' names the accounts)
    Rm(MemberRmArgs),
}

#[derive(Debug, Args)]
pub struct MemberAddArgs {
    /// The new member's age public key (age1...)
    #[arg(value_name = "RECIPIENT")]
    pub recipient: String,
    /// A name for it, usually its host name (default: the start of its public key)
    #[arg(long, value_name = "HOST")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct MemberJoinArgs {
    /// The join code (kcj1-...) that 'keychain member add' printed, carried here by a channel the store's operator does not control
    #[arg(value_name = "CODE")]
    pub code: String,
}

#[derive(Debug, Args)]
pub struct MemberRmArgs {
    /// The member's name as 'keychain member list' shows it
    #[arg(value_name = "NAME")]
    pub name: String,
}

pub fn run(ctx: &Ctx, args: MemberArgs) -> Result<Outcome> {
    let (kc, json) = (&ctx.open()?, ctx.json());
    match args.command {
        MemberCommand::Add(add) => {
            let options = AddOptions {
                recipient: add.recipient,
                name: add.name,
            };
            let done = members::add(kc, &options)?;
            let mut text = format!(
                "Added member '{}' ({}); sealed {} to it.\n",
                done.member.name,
                done.member.recipient,
                crate::output::count(done.resealed.len(), "record", "records")
            );
            if let Some(code) = &done.join_code {
                text.push_str(&format!(
                    "On that machine, run: keychain member join {code}\n\
                     (carry the code by a channel the store's operator does not control: that machine checks that the store holds what this one wrote)\n"
                ));
            }
            let outcome = confirm(json, "member add", &done, &text)?;
            if let (false, Some(code)) = (json, &done.join_code) {
                crate::output::out(&format!("{code}\n"))?;
            }
            Ok(outcome)
        }
        MemberCommand::Join(join) => {
            let accepted = members::join(kc, &join.code)?;
            let text = match accepted {
                crate::members::Accepted::Pinned => {
                    "Joined: the store holds the group key and member list the join code names; this machine trusts them from now on.\n"
                }
                crate::members::Accepted::AlreadyJoined => {
                    "This machine had joined already; its trusted group key and member list were checked again.\n"
                }
            };
            if json {
                crate::output::raw(
                    crate::json::document(serde_json::json!({
                        "ok": true,
                        "command": "member join",
                        "already_joined": accepted == crate::members::Accepted::AlreadyJoined,
                    }))
                    .as_bytes(),
                )?;
            } else {
                crate::output::err(text)?;
            }
            Ok(Outcome::Success)
        }
        MemberCommand::Rm(rm) => {
            let done = members::remove(kc, &rm.name)?;
            let accounts = if done.resealed.is_empty() {
                "none".to_string()
            } else {
                done.resealed.join(", ")
            };
            confirm(
                json,
                "member rm",
                &done,
                &format!(
                    "Removed member '{}'; the group key was rotated and {} sealed again without it.\n\
                     It may have kept what it could read before: rotate the password, TOTP secret and client secret of: {accounts}\n",
                    done.member.name,
                    crate::output::count(done.resealed.len(), "record was", "records were"),
                ),
            )
        }
        MemberCommand::List => {
            let members = members::list(kc)?;
            if json {
                let rows: Vec<serde_json::Value> = members
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "name": m.name,
                            "recipient": m.recipient,
                            "added_at": crate::clock::rfc3339(m.added_at),
                            "added_by": m.added_by,
                        })
                    })
                    .collect();
                crate::output::raw(
                    crate::json::document(serde_json::json!({ "members": rows })).as_bytes(),
                )?;
                return Ok(Outcome::Success);
            }
            if members.is_empty() {
                crate::output::out(&format!(
                    "No member list: every record is sealed to this keychain's key{}.\n",
                    if kc.config.escrow_recipients.is_empty() {
                        ""
                    } else {
                        " and its escrow recipients"
                    }
                ))?;
                return Ok(Outcome::Success);
            }
            let mut text = String::new();
            for m in &members {
                text.push_str(&format!(
                    "{:<20} {}  added {} by {}\n",
                    m.name,
                    m.recipient,
                    crate::clock::rfc3339(m.added_at),
                    m.added_by
                ));
            }
            crate::output::out(&text)?;
            Ok(Outcome::Success)
        }
    }
}

fn confirm(json: bool, command: &str, done: &Change, text: &str) -> Result<Outcome> {
    if json {
        let mut doc = serde_json::json!({
            "ok": true,
            "command": command,
            "member": done.member.name,
            "accounts": crate::json::names(&done.resealed),
        });
        if let Some(code) = &done.join_code {
            doc["join_code"] = code.to_string().into();
        }
        crate::output::raw(crate::json::document(doc).as_bytes())?;
    } else {
        crate::output::err(text)?;
    }
    Ok(Outcome::Success)
}
