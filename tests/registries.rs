//! Subscriber registries as operators have them: English, Chinese and operator-specific column
//! names; UTF-8 with and without a byte-order mark, GBK; `,` `;` and tab separators; quoted
//! fields over several lines; short and long rows and bad bytes in the middle. Every good row is
//! taken, every bad one named with file and line, and the join with the access records is
//! reported, never silently assumed.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const RADIUS: &str = "timestamp,status,username,framed_ip_address,session_id\n\
2026-03-02T01:00:00Z,Start,hengda@fttx,198.51.100.7,A\n\
2026-03-02T01:00:00Z,Start,lucky@adsl,198.51.100.8,B\n\
2026-03-02T01:00:00Z,Start,stranger@adsl,198.51.100.9,C\n";

fn import(dir: &Path, registry: &Path, extra: &[&str]) -> (PathBuf, std::process::Output) {
    let db = dir.join("s.db");
    let radius = dir.join("radius.csv");
    std::fs::write(&radius, RADIUS).unwrap();
    let out = subscribers_import(
        &db,
        &[("--registry", registry), ("--radius-csv", &radius)],
        extra,
    );
    (db, out)
}

fn lookup(db: &Path, ip: &str) -> Value {
    subscribers_lookup(db, ip, "2026-03-02T02:00:00Z", &[])
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_english_registry_with_a_bom_semicolons_quotes_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry.csv");
    let mut bytes =
        b"\xEF\xBB\xBFCustomer ID;Company Name;USCC;Installation Address;PPPoE Account;Region\n"
            .to_vec();
    bytes.extend_from_slice(
        b"ENT-1;Hengda Mining Co.;91110000MA01ABCD1X;\"12 Industrial Road;\nZone 3\";hengda@fttx;North\n",
    );
    bytes.extend_from_slice(b"ENT-2;Short Row Ltd\n");
    bytes.extend_from_slice(b"ENT-3;Bad \xFF Byte Ltd;x;y;bad@adsl;North\n");
    bytes.extend_from_slice(b"ENT-4;Long;a;b;c;d;e\n");
    bytes.extend_from_slice(b"ENT-5;Lucky Star Trading;91310000MA1FL5XX2K;\"8 \"\"Harbour\"\" Lane\";lucky@adsl;South\n");
    std::fs::write(&reg, &bytes).unwrap();
    let (db, out) = import(dir.path(), &reg, &[]);
    let err = stderr(&out);
    let name = reg.display();
    // The rows after each bad one are read; each bad one is named with file and line.
    assert!(
        err.contains(&format!(
            "{name}:4: 2 fields where the header has 6; line skipped"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{name}:5: byte 0xff at column 11 (offset")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{name}:6: 7 fields where the header has 6; line skipped"
        )),
        "{err}"
    );
    assert!(
        stdout(&out).contains(&format!("{name}: 2 record(s) taken, 3 skipped")),
        "{}",
        stdout(&out)
    );
    let s = &lookup(&db, "198.51.100.7")["candidates"][0];
    assert_eq!(s["id"], "ENT-1");
    assert_eq!(s["name"], "Hengda Mining Co.");
    assert_eq!(s["registration_number"], "91110000MA01ABCD1X");
    assert_eq!(s["address"], "12 Industrial Road;\nZone 3");
    assert_eq!(s["registered"], true);
    assert_eq!(s["matched"]["identity"], "hengda@fttx");
    let s = &lookup(&db, "198.51.100.8")["candidates"][0];
    assert_eq!(s["id"], "ENT-5");
    assert_eq!(s["address"], "8 \"Harbour\" Lane");
    // The join: two of three sessions name a registered account; the third is named.
    assert!(
        stdout(&out).contains("join: 2 of 3 access record(s) name an identity the registry knows, 1 do not (1 identity: 'stranger@adsl' (1))"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_chinese_registry_in_gbk_with_tabs() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("用户登记.csv");
    let text = "用户编号\t企业名称\t统一社会信用代码\t装机地址\t宽带账号\t联系电话\t行政区划代码\n\
                QY-0001\t恒达矿业有限公司\t91110000MA01ABCD1X\t北京市朝阳区工业路12号\thengda@fttx\t010-12345678\t110105\n\
                QY-0002\t幸运星贸易\t91310000MA1FL5XX2K\t上海市浦东新区港湾路8号\tlucky@adsl\t021-87654321\t310115\n";
    let (gbk, _, bad) = encoding_rs::GBK.encode(text);
    assert!(!bad);
    std::fs::write(&reg, &gbk).unwrap();
    let (db, out) = import(dir.path(), &reg, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("read as GB18030 (detected)"),
        "{}",
        stderr(&out)
    );
    let s = &lookup(&db, "198.51.100.7")["candidates"][0];
    assert_eq!(s["id"], "QY-0001");
    assert_eq!(s["name"], "恒达矿业有限公司");
    assert_eq!(s["address"], "北京市朝阳区工业路12号");
    assert_eq!(s["registration_number"], "91110000MA01ABCD1X");
    // The region code travels with the candidate, for the inventory's ledger.
    assert_eq!(s["region"], "110105");
    assert_eq!(
        lookup(&db, "198.51.100.8")["candidates"][0]["id"],
        "QY-0002"
    );
    // Named explicitly, the same file reads the same.
    let (db2, out) = import(dir.path(), &reg, &["--encoding", "gbk"]);
    assert!(out.status.success());
    assert_eq!(
        lookup(&db2, "198.51.100.7")["candidates"][0]["name"],
        "恒达矿业有限公司"
    );
    // Read as UTF-8, every non-ASCII line is named and left out.
    let (_, out) = import(dir.path(), &reg, &["--encoding", "utf-8"]);
    assert!(
        stderr(&out).contains(":1: byte 0xd3 at column 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_operators_own_column_names_join_only_when_mapped_and_say_so_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("crm-export.csv");
    std::fs::write(
        &reg,
        "Kundennr,Firma,Zugangskennung,Anschrift\nK-77,Hengda Mining Co.,hengda@fttx,12 Industrial Road\n",
    )
    .unwrap();
    // Not mapped: the import says which columns it could not place and that the join failed.
    let (db, out) = import(dir.path(), &reg, &[]);
    assert!(
        stderr(&out).contains(
            "column(s) 'anschrift', 'firma', 'kundennr', 'zugangskennung' map to no field"
        ),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(":2: no subscriber id"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(
            "join: 0 of 3 access record(s) name an identity the registry knows, 3 do not"
        ),
        "{}",
        stdout(&out)
    );
    let s = &lookup(&db, "198.51.100.7")["candidates"][0];
    assert_eq!(s["registered"], false);
    assert_eq!(s["id"], "hengda@fttx");
    // Mapped (on the command line, or in the config file): the join is made.
    let cfg = dir.path().join("minetap.toml");
    std::fs::write(
        &cfg,
        "registry_columns = \"id=Kundennr,name=Firma,username=Zugangskennung,address=Anschrift\"\n",
    )
    .unwrap();
    for extra in [
        vec![
            "--registry-columns",
            "id=Kundennr,name=Firma,username=Zugangskennung,address=Anschrift",
        ],
        vec!["--config", cfg.to_str().unwrap()],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (db, out) = import(dir.path(), &reg, &extra);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            !stderr(&out).contains("map to no field"),
            "{}",
            stderr(&out)
        );
        assert!(
            stdout(&out).contains("join: 1 of 3 access record(s)"),
            "{}",
            stdout(&out)
        );
        let s = &lookup(&db, "198.51.100.7")["candidates"][0];
        assert_eq!(s["id"], "K-77");
        assert_eq!(s["name"], "Hengda Mining Co.");
        assert_eq!(s["address"], "12 Industrial Road");
        // `subscribers stats` gives the same report.
        let st = run(&["subscribers", "stats", "--db", db.to_str().unwrap()]);
        assert!(st.status.success());
        assert!(
            stdout(&st).contains("1 of 1 registry row(s) have no access record")
                || stdout(&st).contains("0 of 1 registry row(s) have no access record"),
            "{}",
            stdout(&st)
        );
    }
    let bad = run(&[
        "subscribers",
        "import",
        "--db",
        dir.path().join("x.db").to_str().unwrap(),
        "--registry-columns",
        "colour=Farbe",
        "--registry",
        reg.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("'colour' is not a registry field"));
}

#[test]
fn local_times_a_missing_year_and_an_end_before_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let statics = dir.path().join("static.csv");
    std::fs::write(
        &statics,
        "address,subscriber,start,end\n\
         198.51.100.0/28,ENT-1,2026-03-02 08:00:00,2026-03-02 20:00:00\n\
         198.51.100.16/28,ENT-2,2026-03-02 20:00:00,2026-03-02 08:00:00\n",
    )
    .unwrap();
    let syslog = dir.path().join("cgnat.log");
    std::fs::write(
        &syslog,
        "Mar  2 09:00:00 cgn01 nat: allocated 100.64.1.2 -> 203.0.113.5:2048-3071\n",
    )
    .unwrap();
    let imp = |extra: &[&str]| {
        subscribers_import(
            &db,
            &[("--static", &statics), ("--cgnat-syslog", &syslog)],
            extra,
        )
    };
    let out = imp(&["--timezone", "Asia/Shanghai", "--year", "2026"]);
    let err = stderr(&out);
    assert!(
        err.contains(
            ":3: ends (2026-03-02T00:00:00Z) before it starts (2026-03-02T12:00:00Z); line skipped"
        ),
        "{err}"
    );
    // 08:00 in Shanghai is 00:00 UTC: covered at 00:30 UTC, not at 12:30 UTC.
    let at = |t: &str| subscribers_lookup(&db, "198.51.100.5", t, &[]);
    assert_eq!(at("2026-03-02T00:30:00Z")["status"], "matched");
    assert_eq!(at("2026-03-02T12:30:00Z")["status"], "unknown");
    let v = subscribers_lookup(
        &db,
        "203.0.113.5",
        "2026-03-02T01:30:00Z",
        &["--port", "2050"],
    );
    assert_eq!(v["via_cgnat"]["private_ip"], "100.64.1.2", "{v}");
    let bad = imp(&["--timezone", "Mars/Olympus"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("'Mars/Olympus' is not a time zone"));
}

#[test]
fn a_headerless_csv_is_refused_by_name_and_read_with_header() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let f = dir.path().join("acct.csv");
    std::fs::write(
        &f,
        "1772413200,Start,hengda@fttx,198.51.100.7,A\n1772416800,Stop,hengda@fttx,198.51.100.7,A\n",
    )
    .unwrap();
    let imp = |extra: &[&str]| subscribers_import(&db, &[("--radius-csv", &f)], extra);
    let out = imp(&[]);
    assert_eq!(out.status.code(), Some(1), "nothing read is a failure");
    assert!(
        stderr(&out).contains(":1: the first line is data, not a header ('1772413200', 'Start', 'hengda@fttx', '198.51.100.7', ...): name the columns with --header"),
        "{}",
        stderr(&out)
    );
    let out = imp(&["--header", "timestamp,status,username,framed_ip,session_id"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 record(s) taken, 0 skipped"),
        "{}",
        stdout(&out)
    );
}
