//! Scanner, import parser and stripper, driven by the fixtures in `tests/data/settings/`.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

use super::*;
use crate::record::SecretField;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/settings")
        .join(name)
}

/// Every secret value planted in the fixtures, or a distinctive part of it: one list, shared
/// by the scanner's unit tests and the CLI's, one per line.
const CANARIES: &str = include_str!("../../../tests/data/settings-canaries.txt");

fn assert_no_canary(text: &str) {
    for canary in CANARIES.lines() {
        assert!(!text.contains(canary), "{canary} leaked into: {text}");
    }
}

fn summary(findings: &[PlaintextSecret]) -> Vec<(String, usize, String)> {
    findings
        .iter()
        .map(|f| {
            (
                f.file.file_name().unwrap().to_string_lossy().into_owned(),
                f.line,
                f.key.clone(),
            )
        })
        .collect()
}

#[test]
fn finds_every_secret_in_a_settings_file_with_its_line() {
    let findings = scan_paths(&[data("settings-test.xml")]).unwrap();
    let s = |line: usize, key: &str| ("settings-test.xml".to_string(), line, key.to_string());
    assert_eq!(
        summary(&findings),
        vec![
            s(4, "defaultPassword"),
            s(5, "totp-secret"),
            s(8, "api-client-secret"),
            s(8, "API-Refresh-Token"),
            s(13, "Password"),
        ]
    );
}

#[test]
fn findings_never_show_the_value() {
    let mut findings = scan_paths(&[data("settings-test.xml")]).unwrap();
    findings.extend(scan_paths(&[data("tree")]).unwrap());
    for f in &findings {
        assert_no_canary(&format!("{f} {f:?}"));
    }
}

#[test]
fn scans_folders_recursively_by_name_and_extension() {
    let findings = scan_paths(&[data("tree")]).unwrap();
    assert_eq!(
        summary(&findings),
        vec![
            ("app.config".into(), 4, "Password".into()),
            ("legacy.ini".into(), 3, "password".into()),
            ("notes.txt".into(), 2, "api-refresh-token".into()),
            ("settings-sub.xml".into(), 5, "api-client-secret".into()),
        ]
    );
    let shown = findings.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    assert!(shown[0].ends_with("app.config:4: Password"), "{shown:?}");
}

#[test]
fn malformed_xml_names_the_file_and_line() {
    let err = scan_paths(&[data("bad/settings-malformed.xml")]).unwrap_err();
    match &err {
        ScanError::Xml { file, line, .. } => {
            assert!(file.ends_with("settings-malformed.xml"));
            assert_eq!(*line, 6);
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("settings-malformed.xml:6:"), "{text}");
    assert_no_canary(&text);
    assert!(parse_settings(&data("bad/settings-malformed.xml")).is_err());
}

#[test]
fn billion_laughs_is_refused_quickly() {
    let started = Instant::now();
    for result in [
        scan_paths(&[data("bad/settings-billion-laughs.xml")]).map(|_| ()),
        parse_settings(&data("bad/settings-billion-laughs.xml")).map(|_| ()),
    ] {
        match result.unwrap_err() {
            ScanError::Dtd { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn external_entities_are_never_resolved() {
    let err = parse_settings(&data("bad/settings-xxe.xml")).unwrap_err();
    assert!(matches!(err, ScanError::Dtd { .. }), "{err:?}");
    assert!(crate::exit::Failure::hint(&err).is_some_and(|h| h.contains("remove the DTD")));
    assert!(!err.to_string().contains("root:"));
}

#[test]
fn an_undeclared_entity_is_an_error_not_a_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings-entity.xml");
    fs::write(
        &path,
        "<settings>\n  <connection name=\"x\" defaultPassword=\"&xxe;\" />\n</settings>\n",
    )
    .unwrap();
    match scan_file(&path).unwrap_err() {
        ScanError::Xml { line, .. } => assert_eq!(line, 2),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn parses_import_candidates_with_unescaped_secrets() {
    let candidates = parse_settings(&data("settings-test.xml")).unwrap();
    let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "exact-online-nl-eol",
            "exact-online-be-app-eolbe",
            "cloud-teamleader-tl"
        ]
    );

    let nl = &candidates[0];
    assert_eq!(nl.line, 5);
    assert_eq!(nl.group.as_deref(), Some("Exact"));
    assert_eq!(nl.connection.as_deref(), Some("Exact Online NL"));
    assert_eq!(nl.alias.as_deref(), Some("eol"));
    assert_eq!(nl.data_provider.as_deref(), Some("ExactOnlineAll"));
    assert_eq!(nl.provider.map(|k| k.name()), Some("exact-nl"));
    assert_eq!(nl.api_url.as_deref(), Some("https://start.exactonline.nl"));
    assert_eq!(
        nl.client_id.as_deref(),
        Some("a1b2c3d4-0000-4000-8000-00000000e01a")
    );
    assert_eq!(
        nl.redirect_url.as_deref(),
        Some("https://example.com/callback")
    );
    assert_eq!(nl.user.as_deref(), Some("john@example.com"));
    assert_eq!(
        nl.password.as_ref().unwrap().expose_secret(),
        "s3cr&t-P\"w'd<9"
    );
    assert_eq!(
        nl.totp_secret.as_ref().unwrap().expose_secret(),
        "JBSWY3DPEHPK3PXP"
    );
    assert!(nl.client_secret.is_none() && nl.refresh_token.is_none());

    let be = &candidates[1];
    assert_eq!(be.provider.map(|k| k.name()), Some("exact-be"));
    assert_eq!(
        be.client_secret.as_ref().unwrap().expose_secret(),
        "Zx9-client-secret-canary-Q"
    );
    assert_eq!(
        be.refresh_token.as_ref().unwrap().expose_secret(),
        "Gq7.refresh-token-canary.ZZ"
    );
    assert!(be.password.is_none() && be.user.is_none());

    let tl = &candidates[2];
    assert_eq!(tl.provider.map(|k| k.name()), Some("oauth2"));
    assert_eq!(
        tl.api_url.as_deref(),
        Some("https://api.focus.teamleader.eu")
    );
    assert_eq!(
        tl.password.as_ref().unwrap().expose_secret(),
        "pa;ss\"word&1"
    );

    assert_no_canary(&format!("{candidates:?}"));
}

#[test]
fn slugifies_names() {
    assert_eq!(
        slugify(&["Exact", "Exact Online NL", "eol"]),
        "exact-online-nl-eol"
    );
    assert_eq!(slugify(&["", "  Ça va?? ", "x"]), "a-va-x");
    assert_eq!(slugify(&["", "", ""]), "");
}

#[test]
fn strip_removes_exactly_the_secrets_and_keeps_a_private_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings-test.xml");
    let original = fs::read_to_string(data("settings-test.xml")).unwrap();
    fs::write(&path, &original).unwrap();

    let backup = strip_secrets(&path, 1_700_000_000).unwrap();
    assert_eq!(fs::read_to_string(&backup).unwrap(), original);
    assert!(
        backup
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("settings-test.xml.keychain-backup-")
    );

    let expected = original
        .replace(
            " defaultPassword=\"s3cr&amp;t-P&quot;w&#x27;d&lt;9\"",
            "",
        )
        .replace(";totp-secret=JBSWY3DPEHPK3PXP", "")
        .replace(
            "api-client-secret=Zx9-client-secret-canary-Q;API-Refresh-Token=Gq7.refresh-token-canary.ZZ;",
            "",
        )
        .replace("Password=&quot;pa;ss&quot;&quot;word&amp;1&quot;;", "");
    let stripped = fs::read_to_string(&path).unwrap();
    assert_eq!(stripped, expected);
    assert_no_canary(&stripped);
    assert!(scan_file(&path).unwrap().is_empty());
    assert!(parse_settings(&path).unwrap().is_empty());

    // Nothing left: a second strip says so and writes no backup.
    assert!(matches!(
        strip_secrets(&path, 1_700_000_000).unwrap_err(),
        ScanError::NothingToStrip { .. }
    ));
    // The backup is found by a folder scan, so it is not forgotten.
    assert!(!scan_paths(&[dir.path().to_path_buf()]).unwrap().is_empty());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[cfg(unix)]
#[test]
fn strip_keeps_the_files_own_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings-perm.xml");
    fs::copy(data("settings-test.xml"), &path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    strip_secrets(&path, 1_700_000_000).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[test]
fn strip_leaves_a_malformed_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings-malformed.xml");
    fs::copy(data("bad/settings-malformed.xml"), &path).unwrap();
    let before = fs::read(&path).unwrap();
    assert!(strip_secrets(&path, 1_700_000_000).is_err());
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_lone_password_at_the_end_of_a_connection_string_is_cut_with_its_separator() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings-end.xml");
    fs::write(
        &path,
        "<settings>\n<connection name=\"c\">\n<database alias=\"a\" connectionString='api-url=https://x.example;password=\"q&amp;;r\"' />\n</connection>\n</settings>\n",
    )
    .unwrap();
    let candidates = parse_settings(&path).unwrap();
    assert_eq!(
        candidates[0].password.as_ref().unwrap().expose_secret(),
        "q&;r"
    );
    strip_secrets(&path, 1_700_000_000).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "<settings>\n<connection name=\"c\">\n<database alias=\"a\" connectionString='api-url=https://x.example' />\n</connection>\n</settings>\n"
    );
}

#[test]
fn strip_preserves_crlf_line_ends_and_a_bom() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings-crlf.xml");
    let original = format!(
        "\u{feff}{}",
        fs::read_to_string(data("settings-test.xml"))
            .unwrap()
            .replace('\n', "\r\n")
    );
    fs::write(&path, &original).unwrap();
    assert_eq!(scan_file(&path).unwrap().len(), 5);
    assert_eq!(scan_file(&path).unwrap()[4].line, 13);
    strip_secrets(&path, 1_700_000_000).unwrap();
    let stripped = fs::read_to_string(&path).unwrap();
    assert!(stripped.starts_with('\u{feff}'));
    assert_eq!(
        stripped.matches("\r\n").count(),
        original.matches("\r\n").count()
    );
    assert!(!stripped.replace("\r\n", "").contains('\n'));
    assert_no_canary(&stripped);
}

#[test]
fn scan_paths_all_goes_on_past_bad_files_and_returns_them() {
    let (findings, errors) = scan_paths_all(&[data("bad"), data("settings-test.xml")]);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors.iter().any(|e| matches!(e, ScanError::Xml { .. })));
    assert_eq!(
        errors
            .iter()
            .filter(|e| matches!(e, ScanError::Dtd { .. }))
            .count(),
        2
    );
    assert_eq!(findings.len(), 5);
    assert!(scan_paths(&[data("bad"), data("settings-test.xml")]).is_err());
    let (none, missing) = scan_paths_all(&[data("no-such-file.xml")]);
    assert!(none.is_empty() && matches!(missing[..], [ScanError::Io { .. }]));
}

#[test]
fn the_documented_example_has_its_logon_code_and_password_on_the_database_element() {
    let file = read_settings(&data("settings-seed-example.xml")).unwrap();
    let [c] = &file.candidates[..] else {
        panic!("one candidate expected: {:?}", file.candidates)
    };
    assert_eq!(c.name, "exact-online-background-eol");
    assert_eq!(c.provider.map(|k| k.name()), Some("exact-nl"));
    assert_eq!(c.user.as_deref(), Some("john.doe@acme.com"));
    assert_eq!(
        c.password.as_ref().unwrap().expose_secret(),
        "seed-Pw-canary-42"
    );
    assert_eq!(
        c.totp_secret.as_ref().unwrap().expose_secret(),
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    );
    let keys: Vec<(SecretField, &str)> =
        c.spots.iter().map(|(f, s)| (*f, s.key.as_str())).collect();
    assert_eq!(
        keys,
        vec![
            (SecretField::Password, "defaultPassword"),
            (SecretField::TotpSecret, "totp-secret")
        ]
    );
    assert_eq!(file.spots.len(), 2);
    assert!(!format!("{:?}", file.candidates).contains("canary"));
}

#[test]
fn database_values_win_over_connection_values_which_fill_the_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings-layers.xml");
    fs::write(
        &path,
        r#"<settings>
  <group name="G">
    <connection name="C" defaultUserLogonCode="conn-user" defaultPassword="conn-pw">
      <database alias="own" defaultUserLogonCode="db-user" defaultPassword="db-pw" connectionString="api-url=https://start.exactonline.nl;api-client-id=x" />
      <database alias="inherits" connectionString="api-url=https://start.exactonline.be;api-client-id=y;password=cs-pw;password=cs-pw-last" />
      <database alias="plain" connectionString="api-url=https://start.exactonline.de;api-client-id=z" />
    </connection>
  </group>
</settings>"#,
    )
    .unwrap();
    let file = read_settings(&path).unwrap();
    let by = |alias: &str| {
        file.candidates
            .iter()
            .find(|c| c.alias.as_deref() == Some(alias))
            .unwrap()
    };
    let own = by("own");
    assert_eq!(own.user.as_deref(), Some("db-user"));
    assert_eq!(own.password.as_ref().unwrap().expose_secret(), "db-pw");
    let inherits = by("inherits");
    assert_eq!(inherits.user.as_deref(), Some("conn-user"));
    // A password pair of the database's own connection string wins over any attribute; the last
    // of two pairs wins, as in a driver.
    assert_eq!(
        inherits.password.as_ref().unwrap().expose_secret(),
        "cs-pw-last"
    );
    let plain = by("plain");
    assert_eq!(plain.user.as_deref(), Some("conn-user"));
    assert_eq!(plain.password.as_ref().unwrap().expose_secret(), "conn-pw");
    // Every secret of the file is a spot, also the first, shadowed password pair.
    assert_eq!(file.spots.len(), 4);
}

#[test]
fn strip_spots_removes_only_the_chosen_values_and_refuses_a_file_changed_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings-test.xml");
    let original = fs::read_to_string(data("settings-test.xml")).unwrap();
    fs::write(&path, &original).unwrap();
    let file = read_settings(&path).unwrap();
    let totp: Vec<Spot> = file
        .spots
        .iter()
        .filter(|s| s.key == "totp-secret")
        .cloned()
        .collect();
    assert_eq!(totp.len(), 1);

    fs::write(&path, format!("{original}\n")).unwrap();
    assert!(matches!(
        strip_spots(&path, &file.text, &totp, 1_700_000_000).unwrap_err(),
        ScanError::ChangedMeanwhile { .. }
    ));
    fs::write(&path, &original).unwrap();
    strip_spots(&path, &file.text, &totp, 1_700_000_000).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        original.replace(";totp-secret=JBSWY3DPEHPK3PXP", "")
    );
}
