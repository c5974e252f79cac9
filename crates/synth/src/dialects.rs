//! Conversations of the mining protocols other than Stratum V1, and of the node RPC traffic
//! that must not be taken for mining, as TCP sessions.

use super::capture::{Frame, L2};
use super::session::{addr, TcpSession};

/// Sends newline-terminated JSON lines, alternating as the script says (`true`: client).
pub fn lines(s: &mut TcpSession, script: &[(bool, &str)], pause_ms: u64) {
    for (from_client, text) in script {
        s.wait_ms(pause_ms);
        s.send(*from_client, format!("{text}\n").as_bytes());
    }
}

/// One HTTP POST carrying `body`, answered by `answer` (chunked when asked).
pub fn http_post(
    s: &mut TcpSession,
    path: &str,
    headers: &str,
    body: &str,
    answer: &str,
    chunked: bool,
) {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        s.server,
        body.len()
    );
    s.send(true, req.as_bytes());
    s.wait_ms(40);
    let resp = if chunked {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{answer}\r\n0\r\n\r\n",
            answer.len()
        )
    } else {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        )
    };
    s.send(false, resp.as_bytes());
}

fn session(client: &str, server: &str, start: u64) -> TcpSession {
    let mut s = TcpSession::new(addr(client), addr(server), start, L2::Ethernet);
    s.handshake();
    s
}

const JOB_BLOB: &str = "1010b8a4d2a9069b6a44ce02b9c2f0e1a7fbd3c8e4e0a4a3b1c2d3e4f5a6b7c8d9e0f10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000101";

/// An XMRig session: login with agent and algorithms, jobs, shares, keepalive.
/// With `mid_stream`, only what follows the login is in the capture.
pub fn cryptonote(client: &str, server: &str, start: u64, mid_stream: bool) -> Vec<Frame> {
    let mut s = session(client, server, start);
    let login = r#"{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"48edfHu7V9Z84YzzMa6fUueoELZ9ZRXq9VetWzYGzKt52XU5xvqgzYnDK9URnRoJMk1j8nLwEVsaSWJ4fhdUyZijBGUicoD","pass":"x","agent":"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0","rigid":"rig-07","algo":["rx/0","cn/r","rx/wow"]}}"#;
    let answer = format!(
        r#"{{"id":1,"jsonrpc":"2.0","error":null,"result":{{"id":"a1b2c3","job":{{"blob":"{JOB_BLOB}","job_id":"j1","target":"b88d0600","algo":"rx/0","height":3100000,"seed_hash":"6a8e7b1c"}},"extensions":["algo","nicehash","connect","tls","keepalive"],"status":"OK"}}}}"#
    );
    lines(&mut s, &[(true, login), (false, &answer)], 10);
    let cut = s.frames.len();
    let mut id = 2;
    for j in 2..=6 {
        s.wait_ms(20_000);
        let job = format!(
            r#"{{"jsonrpc":"2.0","method":"job","params":{{"blob":"{JOB_BLOB}","job_id":"j{j}","target":"b88d0600","algo":"rx/0","height":{},"seed_hash":"6a8e7b1c","id":"a1b2c3"}}}}"#,
            3_100_000 + j
        );
        lines(&mut s, &[(false, &job)], 0);
        let submit = format!(
            r#"{{"id":{id},"jsonrpc":"2.0","method":"submit","params":{{"id":"a1b2c3","job_id":"j{j}","nonce":"{:08x}","result":"{}","algo":"rx/0"}}}}"#,
            0x2a00 + j,
            "9b".repeat(32)
        );
        let ok =
            format!(r#"{{"id":{id},"jsonrpc":"2.0","error":null,"result":{{"status":"OK"}}}}"#);
        lines(&mut s, &[(true, &submit), (false, &ok)], 7_000);
        id += 1;
    }
    let ka = format!(
        r#"{{"id":{id},"jsonrpc":"2.0","method":"keepalived","params":{{"id":"a1b2c3"}}}}"#
    );
    let ka_ok =
        format!(r#"{{"id":{id},"jsonrpc":"2.0","error":null,"result":{{"status":"KEEPALIVED"}}}}"#);
    lines(&mut s, &[(true, &ka), (false, &ka_ok)], 1_000);
    s.close();
    if mid_stream {
        s.frames.split_off(cut)
    } else {
        s.frames
    }
}

/// EthProxy over TCP: login, work packages, hashrate reports, a share.
pub fn ethproxy(client: &str, server: &str, start: u64) -> Vec<Frame> {
    let mut s = session(client, server, start);
    // The seed is Keccak-256 applied 794 times to 32 zero bytes: Ethereum Classic's epoch 397
    // (blocks 23,820,000 to 23,879,999, early 2026); the pushed package adds the height.
    let seed = "0x4139226437436da33c0f4dc4588f23f8667a471f3f4a09dd7425ae0baea6eb1f";
    let work = |n: u64| {
        format!(
            r#"["0x{:064x}","{seed}","0x00000000ffff0000000000000000000000000000000000000000000000000000"{}]"#,
            0xd494_08f6_u64 + n,
            if n > 0 { r#","0x16bed50""# } else { "" }
        )
    };
    let script: Vec<(bool, String)> = vec![
        (true, r#"{"worker": "eth1.0", "jsonrpc": "2.0", "params": ["0x9c99d212f7e5daa18ab50810e0fd255d1f04303b.rig2", "x"], "id": 2, "method": "eth_submitLogin"}"#.into()),
        (false, r#"{"id":2,"jsonrpc":"2.0","result":true}"#.into()),
        (true, r#"{"worker": "", "jsonrpc": "2.0", "params": [], "id": 3, "method": "eth_getWork"}"#.into()),
        (false, format!(r#"{{"id":3,"jsonrpc":"2.0","result":{}}}"#, work(0))),
        (true, r#"{"worker": "", "jsonrpc": "2.0", "params": ["0x0000000017d78400", "0x595394dfcf62b8f99cf36dae818fa985a394c6ded5d59f8711e93d445ad257a0"], "id": 4, "method": "eth_submitHashrate"}"#.into()),
        (false, r#"{"id":4,"jsonrpc":"2.0","result":true}"#.into()),
        (false, format!(r#"{{"id":0,"jsonrpc":"2.0","result":{}}}"#, work(1))),
        (true, r#"{"worker": "", "jsonrpc": "2.0", "params": ["0x1a2b3c4d5e6f7081", "0xd49408f639581e7c4daffd1b20ee981139ca96694a7e6460dad17a9bb45efcf7", "0x2b1dd9b5c1fe0e5f7e6f2e0bd8b0b7d7a8a1d0d29f5b8f5b4a2f7c1c2d3e4f50"], "id": 5, "method": "eth_submitWork"}"#.into()),
        (false, r#"{"id":5,"jsonrpc":"2.0","result":true}"#.into()),
    ];
    let script: Vec<(bool, &str)> = script.iter().map(|(c, t)| (*c, t.as_str())).collect();
    lines(&mut s, &script, 2_000);
    s.close();
    s.frames
}

/// Ethereum getwork over HTTP to a pool, chunked answers.
pub fn ethproxy_http(client: &str, server: &str, start: u64) -> Vec<Frame> {
    let mut s = session(client, server, start);
    let path = "/?miner=30@0x4b999ba68e017854ffb6b494bc2ddb9ef02bd745@rig9";
    http_post(
        &mut s,
        path,
        "",
        r#"{"id":1,"jsonrpc":"2.0","method":"eth_getWork"}"#,
        r#"{"id":1,"jsonrpc":"2.0","result":["0xd49408f639581e7c4daffd1b20ee981139ca96694a7e6460dad17a9bb45efcf6","0x71a56feffb6f10ea9d76e1a9464eb0abd86e4349ae98fb794923a65b650282a3","0x000000005ba03f80cf23190f76455c5b50637575fe8f983eab6727314d04c63e"]}"#,
        true,
    );
    s.wait_ms(5_000);
    http_post(
        &mut s,
        path,
        "",
        r#"{"id":1,"jsonrpc":"2.0","method":"eth_submitHashrate","params":["0x5f5e100","0x595394dfcf62b8f99cf36dae818fa985a394c6ded5d59f8711e93d445ad257a0"]}"#,
        r#"{"id":1,"jsonrpc":"2.0","result":true}"#,
        true,
    );
    s.close();
    s.frames
}

/// NiceHash EthereumStratum/1.0.0.
pub fn ethereumstratum(client: &str, server: &str, start: u64) -> Vec<Frame> {
    let mut s = session(client, server, start);
    let script = [
        (
            true,
            r#"{"id":1,"method":"mining.subscribe","params":["ethminer/0.19.0","EthereumStratum/1.0.0"]}"#,
        ),
        (
            false,
            r#"{"id":1,"result":[["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f","EthereumStratum/1.0.0"],"080c"],"error":null}"#,
        ),
        (
            true,
            r#"{"id":2,"method":"mining.authorize","params":["3J6HNskoH271PVPFvfAmBqUmarMFjwA9Y.rig3","x"]}"#,
        ),
        (false, r#"{"id":2,"result":true,"error":null}"#),
        (
            false,
            r#"{"id":null,"method":"mining.set_difficulty","params":[0.5]}"#,
        ),
        (
            false,
            r#"{"id":null,"method":"mining.notify","params":["bf0488aa","abad8f99f3918bf903c6a909d9bbc0fdfa5a2f4b9cb1196175ec825c6610126c","645cf20198c2f3861e947d4f67e3ab63b7b2e24dcc9095bd9123e7b33371f6cc",true]}"#,
        ),
        (
            true,
            r#"{"id":4,"method":"mining.submit","params":["3J6HNskoH271PVPFvfAmBqUmarMFjwA9Y.rig3","bf0488aa","6a909d9bbc0f"]}"#,
        ),
        (false, r#"{"id":4,"result":true,"error":null}"#),
    ];
    lines(&mut s, &script, 3_000);
    s.close();
    s.frames
}

/// cgminer asking a node or pool for block templates over HTTP, and submitting a block.
pub fn getblocktemplate(client: &str, server: &str, start: u64) -> Vec<Frame> {
    let mut s = session(client, server, start);
    let hdr = "Authorization: Basic eDp4\r\nX-Mining-Extensions: longpoll midstate rollntime submitold\r\nUser-Agent: cgminer 4.10.0\r\n";
    http_post(
        &mut s,
        "/",
        hdr,
        r#"{"id": 0, "method": "getblocktemplate", "params": [{"capabilities": ["coinbasetxn", "workid", "coinbase/append"], "rules": ["segwit"]}]}"#,
        r#"{"result":{"version":536870912,"previousblockhash":"00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054","transactions":[],"coinbasevalue":312500000,"target":"0000000000000000000ebe3d0000000000000000000000000000000000000000","curtime":1772439204,"bits":"1703a30c","height":880000},"error":null,"id":0}"#,
        false,
    );
    s.wait_ms(30_000);
    http_post(
        &mut s,
        "/",
        hdr,
        r#"{"id": 1, "method": "submitblock", "params": ["0000002054a02827d7a8b756"]}"#,
        r#"{"result":null,"error":null,"id":1}"#,
        false,
    );
    s.close();
    s.frames
}

/// Bitcoin block 125,552's header (2011-05-21; the Bitcoin wiki's "Block hashing algorithm"
/// example) as getwork sends it: the header and SHA-256 padding to 128 bytes, each 32-bit word
/// byte-swapped.
fn getwork_data() -> String {
    let header = concat!(
        "01000000",
        "81cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000",
        "e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122b",
        "c7f5d74d",
        "f2b9441a",
        "42a14695",
    );
    let padded = format!("{header}80{}0280", "0".repeat(2 * (128 - 80 - 1 - 2)));
    padded
        .as_bytes()
        .chunks(8)
        .map(|w| {
            w.chunks(2)
                .rev()
                .map(|b| std::str::from_utf8(b).unwrap_or_default())
                .collect::<String>()
        })
        .collect()
}

/// Legacy getwork over HTTP.
pub fn getwork(client: &str, server: &str, start: u64) -> Vec<Frame> {
    let mut s = session(client, server, start);
    let hdr = "Authorization: Basic eDp4\r\nX-Mining-Extensions: longpoll midstate rollntime submitold\r\nUser-Agent: cgminer 3.7.2\r\n";
    http_post(
        &mut s,
        "/",
        hdr,
        r#"{"id": 0, "method": "getwork", "params": []}"#,
        &format!(
            r#"{{"result":{{"data":"{}","target":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffff00000000"}},"error":null,"id":0}}"#,
            getwork_data()
        ),
        false,
    );
    s.close();
    s.frames
}

/// Ordinary node RPC over HTTP (a wallet asking a Bitcoin node and an Ethereum node).
pub fn node_rpc(start: u64) -> Vec<Frame> {
    let mut s = session("192.0.2.70:53000", "192.0.2.71:8332", start);
    for (i, m) in [
        "getblockchaininfo",
        "getbalance",
        "getnetworkinfo",
        "getmininginfo",
    ]
    .iter()
    .enumerate()
    {
        http_post(
            &mut s,
            "/",
            "Authorization: Basic dXNlcjpwYXNz\r\n",
            &format!(r#"{{"jsonrpc":"1.0","id":{i},"method":"{m}","params":[]}}"#),
            &format!(r#"{{"result":{{"chain":"main","blocks":880000}},"error":null,"id":{i}}}"#),
            false,
        );
        s.wait_ms(500);
    }
    s.close();
    let mut frames = s.frames;
    let mut e = session("192.0.2.72:53001", "192.0.2.73:8545", start + 5_000_000_000);
    for (i, m) in ["eth_blockNumber", "eth_getBalance", "net_version"]
        .iter()
        .enumerate()
    {
        http_post(
            &mut e,
            "/",
            "",
            &format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"{m}","params":[]}}"#),
            &format!(r#"{{"jsonrpc":"2.0","id":{i},"result":"0x1b4"}}"#),
            false,
        );
    }
    e.close();
    frames.extend(e.frames);
    frames.sort_by_key(|f| f.ts_ns);
    frames
}
