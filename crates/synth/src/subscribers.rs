//! Sample operator records for the sample captures' miners, one file per input format: an
//! enterprise registry (CSV and JSON lines), static assignments, RADIUS accounting (detail and
//! CSV), DHCP leases (dhcpd and Kea) and CGNAT port blocks (CSV and syslog).
//!
//! The story they tell, on 2026-03-02 (times UTC):
//! - 203.0.113.10 (stratum-v1.pcap, 08:13) is Hengda Mining Co. over RADIUS 06:00–10:00, then
//!   reassigned at 12:00 to Riverside Café;
//! - 203.0.113.13 (stratum-v1-vlan.pcap) is a CGNAT public address: ports 47104–48127 belong to
//!   100.64.5.6 from 07:00, which a Kea DHCP lease gives to Blue Valley Data Ltd's router;
//! - 203.0.113.12 (stratum-v1-segmented.pcap) is leased by dhcpd to North Ridge Hosting;
//! - 2001:db8::/48 (stratum-v1-bip310.pcap) is statically routed to Eastern Farm Cooperative;
//! - 203.0.113.16 (stratum-v1-sll.pcap) is statically assigned to two subscribers at once: ambiguous;
//! - 203.0.113.20 (cryptonote-xmrig.pcap) is in no record: unknown;
//! - IPv6: Riverside Café's RADIUS session also delegates 2001:db8:100::/56; a Kea v6 lease gives
//!   2001:db8:200::5 to Silver Lake School's host (by DUID).

/// (file name, contents)
pub fn files() -> Vec<(&'static str, String)> {
    vec![
        ("registry.csv", "\
subscriber_id,enterprise_name,unified_social_credit_code,service_address,contact,account_type,line_id,username,mac,sales_region
ENT-001,Hengda Mining Co.,91110000MA01ABCD1X,\"12 Industrial Road, Zone 3\",+86 10 5555 0101,enterprise,LN-88001,hengda-ppp,,north
ENT-002,Riverside Café,92110105MA02EFGH2Y,\"7 River Street\",+86 10 5555 0202,business,LN-88002,riverside-ppp,,north
ENT-003,Blue Valley Data Ltd,91440300MA03IJKL3Z,\"Building 5, Science Park\",+86 755 5555 0303,enterprise,LN-88003,,aa:bb:cc:00:00:06,south
".into()),
        ("registry.jsonl", "\
{\"id\":\"ENT-004\",\"name\":\"North Ridge Hosting\",\"registration_number\":\"91210100MA04MNOP4A\",\"address\":\"88 Data Avenue\",\"account_type\":\"data-centre\",\"mac\":\"aa:bb:cc:00:00:12\"}
{\"id\":\"ENT-005\",\"name\":\"Eastern Farm Cooperative\",\"registration_number\":\"93330000MA05QRST5B\",\"address\":\"Village 9, East County\",\"account_type\":\"enterprise\"}
{\"id\":\"ENT-006\",\"name\":\"Golden Gate Logistics\",\"registration_number\":\"91310000MA06UVWX6C\",\"address\":\"3 Harbour Road\",\"account_type\":\"enterprise\"}
{\"id\":\"ENT-007\",\"name\":\"Silver Lake School\",\"registration_number\":\"12310000MA07YZAB7D\",\"address\":\"1 Lake Road\",\"account_type\":\"education\",\"duid\":\"00:01:00:01:2b:3c:4d:5e:aa:bb:cc:00:00:07\"}
".into()),
        ("static.csv", "\
address,subscriber,start,end
2001:db8::/48,ENT-005,2025-01-01T00:00:00Z,
203.0.113.16,ENT-006,2026-03-01T00:00:00Z,
203.0.113.16,ENT-007,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z
".into()),
        ("radius.detail", "\
Mon Mar  2 06:00:00 2026
\tAcct-Status-Type = Start
\tUser-Name = \"hengda-ppp\"
\tAcct-Session-Id = \"S-1001\"
\tFramed-IP-Address = 203.0.113.10
\tEvent-Timestamp = \"Mar  2 2026 06:00:00 UTC\"

Mon Mar  2 10:00:00 2026
\tAcct-Status-Type = Stop
\tUser-Name = \"hengda-ppp\"
\tAcct-Session-Id = \"S-1001\"
\tFramed-IP-Address = 203.0.113.10
\tEvent-Timestamp = \"Mar  2 2026 10:00:00 UTC\"

Mon Mar  2 12:00:00 2026
\tAcct-Status-Type = Start
\tUser-Name = \"riverside-ppp\"
\tAcct-Session-Id = \"S-1002\"
\tFramed-IP-Address = 203.0.113.10
\tDelegated-IPv6-Prefix = 2001:db8:100::/56
\tEvent-Timestamp = \"Mar  2 2026 12:00:00 UTC\"

".into()),
        ("radius.csv", "\
timestamp,status,username,framed_ip_address,session_id
2026-03-02T05:00:00Z,Start,hengda-ppp,198.51.100.77,S-0900
2026-03-02T05:30:00Z,Stop,hengda-ppp,198.51.100.77,S-0900
".into()),
        ("dhcpd.leases", "\
# dhcpd.leases written by the ISC DHCP server
lease 203.0.113.12 {
  starts 1 2026/03/02 00:00:00;
  ends 1 2026/03/02 23:59:59;
  hardware ethernet aa:bb:cc:00:00:12;
  client-hostname \"nr-edge\";
}
".into()),
        ("kea-leases4.csv", "\
address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context
100.64.5.6,aa:bb:cc:00:00:06,,86400,1772496000,1,0,0,bv-router,0,
".into()),
        ("kea-leases6.csv", "\
address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context
2001:db8:200::5,00:01:00:01:2b:3c:4d:5e:aa:bb:cc:00:00:07,86400,1772496000,2,43200,0,1,128,0,0,lab-host,,0,
".into()),
        ("cgnat.csv", "\
public_ip,port_start,port_end,private_ip,start,end
203.0.113.13,46080,47103,100.64.5.5,2026-03-02T07:00:00Z,
".into()),
        ("cgnat.log", "\
<134>1 2026-03-02T07:00:00Z cgn01 nat - - - PBA allocated 100.64.5.6 -> 203.0.113.13:47104-48127
<134>1 2026-03-02T20:00:00Z cgn01 nat - - - PBA released 100.64.5.6 -> 203.0.113.13:47104-48127
".into()),
    ]
}
