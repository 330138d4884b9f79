//! The one check of where plugin traffic may go: [`is_public`], used by plugin HTTP and
//! by the media service before it hands a URL to yt-dlp.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges that are not globally reachable unicast: the IANA IPv4 Special-Purpose
/// Address Registry, plus multicast. 192.0.0.0/24 is refused whole, although two of its
/// anycast rows (192.0.0.9, 192.0.0.10) are reachable: they are protocol services, not
/// hosts to fetch from.
const V4_REFUSED: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // shared address space (CGN)
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation (TEST-NET-1)
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // deprecated 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation (TEST-NET-2)
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation (TEST-NET-3)
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and 255.255.255.255 broadcast
];

/// The only IPv6 global unicast space (IANA IPv6 Address Space). Everything outside it is
/// refused: ::, ::1, IPv4-compatible ::/96, IPv4-mapped ::ffff:0:0/96, NAT64
/// 64:ff9b::/96 and 64:ff9b:1::/48, discard 100::/64, SRv6 SIDs 5f00::/16, unique local
/// fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast ff00::/8.
const V6_GLOBAL: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

/// Ranges inside [`V6_GLOBAL`] that are not globally reachable unicast (IANA IPv6
/// Special-Purpose Address Registry). 2001::/23 is refused whole: besides Teredo,
/// benchmarking and ORCHID(v2), which are not routable, its reachable rows are protocol
/// anycast and relay services, not hosts to fetch from.
const V6_REFUSED: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF protocol assignments
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4 (embeds IPv4)
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
];

/// Whether `ip` is globally routable unicast, so not loopback, private, link-local,
/// reserved, documentation, multicast, nor an IPv6 form that embeds an IPv4 address
/// (the embedded address could be anything, and a relay or translator would reach it).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            !V4_REFUSED
                .iter()
                .any(|&(net, len)| prefix_eq(bits.into(), u32::from(net).into(), 32, len))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let inside = |&(net, len): &(Ipv6Addr, u8)| prefix_eq(bits, u128::from(net), 128, len);
            inside(&V6_GLOBAL) && !V6_REFUSED.iter().any(inside)
        }
    }
}

/// Whether the first `len` of `width` bits of `a` and `b` agree.
fn prefix_eq(a: u128, b: u128, width: u32, len: u8) -> bool {
    let shift = width - u32::from(len);
    a >> shift == b >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each registry row with addresses inside and just outside it, and the expected
    /// verdict (`true` = public). A neighbour outside one range may be inside another.
    #[rustfmt::skip]
    const TABLE: &[(&str, &[(&str, bool)])] = &[
        // IPv4
        ("0.0.0.0/8", &[("0.0.0.0", false), ("0.255.255.255", false), ("1.0.0.0", true)]),
        ("10.0.0.0/8", &[("10.0.0.0", false), ("10.255.255.255", false), ("9.255.255.255", true), ("11.0.0.0", true)]),
        ("100.64.0.0/10", &[("100.64.0.0", false), ("100.127.255.255", false), ("100.63.255.255", true), ("100.128.0.0", true)]),
        ("127.0.0.0/8", &[("127.0.0.1", false), ("127.255.255.255", false), ("126.255.255.255", true), ("128.0.0.0", true)]),
        ("169.254.0.0/16", &[("169.254.0.0", false), ("169.254.169.254", false), ("169.253.255.255", true), ("169.255.0.0", true)]),
        ("172.16.0.0/12", &[("172.16.0.0", false), ("172.31.255.255", false), ("172.15.255.255", true), ("172.32.0.0", true)]),
        ("192.0.0.0/24", &[("192.0.0.0", false), ("192.0.0.8", false), ("192.0.0.9", false), ("192.0.0.170", false), ("192.0.0.255", false), ("191.255.255.255", true), ("192.0.1.0", true)]),
        ("192.0.2.0/24", &[("192.0.2.0", false), ("192.0.2.255", false), ("192.0.1.255", true), ("192.0.3.0", true)]),
        ("192.31.196.0/24 (AS112, reachable)", &[("192.31.196.1", true)]),
        ("192.52.193.0/24 (AMT, reachable)", &[("192.52.193.1", true)]),
        ("192.88.99.0/24", &[("192.88.99.0", false), ("192.88.99.255", false), ("192.88.98.255", true), ("192.88.100.0", true)]),
        ("192.168.0.0/16", &[("192.168.0.0", false), ("192.168.255.255", false), ("192.167.255.255", true), ("192.169.0.0", true)]),
        ("192.175.48.0/24 (AS112, reachable)", &[("192.175.48.1", true)]),
        ("198.18.0.0/15", &[("198.18.0.0", false), ("198.19.255.255", false), ("198.17.255.255", true), ("198.20.0.0", true)]),
        ("198.51.100.0/24", &[("198.51.100.0", false), ("198.51.100.255", false), ("198.51.99.255", true), ("198.51.101.0", true)]),
        ("203.0.113.0/24", &[("203.0.113.0", false), ("203.0.113.255", false), ("203.0.112.255", true), ("203.0.114.0", true)]),
        ("224.0.0.0/4", &[("224.0.0.1", false), ("239.255.255.255", false), ("223.255.255.255", true)]),
        ("240.0.0.0/4", &[("240.0.0.0", false), ("255.255.255.254", false)]),
        ("255.255.255.255/32", &[("255.255.255.255", false)]),
        ("public IPv4", &[("1.1.1.1", true), ("8.8.8.8", true), ("93.184.216.34", true)]),
        // IPv6 outside 2000::/3
        ("::/128", &[("::", false)]),
        ("::1/128", &[("::1", false), ("::2", false)]),
        ("::/96 (IPv4-compatible)", &[("::1.1.1.1", false), ("::255.255.255.255", false), ("::1:0:0", false)]),
        ("::ffff:0:0/96", &[("::ffff:1.1.1.1", false), ("::ffff:127.0.0.1", false), ("::fffe:ffff:ffff", false), ("::1:0:0:0", false)]),
        ("64:ff9b::/96", &[("64:ff9b::1.1.1.1", false), ("64:ff9b::ffff:ffff", false), ("64:ff9b::1:0:0", false)]),
        ("64:ff9b:1::/48", &[("64:ff9b:1::a00:1", false), ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false), ("64:ff9b:2::", false)]),
        ("100::/64", &[("100::", false), ("100::ffff:ffff:ffff:ffff", false), ("100:0:0:1::1", false)]),
        ("5f00::/16", &[("5f00::1", false), ("5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), ("5f01::", false)]),
        ("fc00::/7", &[("fc00::1", false), ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false)]),
        ("fe80::/10", &[("fe80::1", false), ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false)]),
        ("fec0::/10", &[("fec0::1", false), ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false)]),
        ("ff00::/8", &[("ff00::", false), ("ff02::1", false), ("ff0e::1", false), ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false)]),
        ("2000::/3 edges", &[("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), ("2000::", true), ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true), ("4000::", false)]),
        // IPv6 inside 2000::/3
        ("2001::/23", &[("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", false), ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true), ("2001:200::", true)]),
        ("2001::/32 (Teredo)", &[("2001::", false), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false), ("2001:1::1", false)]),
        ("2001:1::1/128, ::2, ::3 (anycast, in 2001::/23)", &[("2001:1::1", false), ("2001:1::2", false), ("2001:1::3", false)]),
        ("2001:2::/48", &[("2001:2::1", false), ("2001:2:0:ffff:ffff:ffff:ffff:ffff", false), ("2001:2:1::", false)]),
        ("2001:3::/32 (AMT, in 2001::/23)", &[("2001:3::1", false)]),
        ("2001:4:112::/48 (AS112, in 2001::/23)", &[("2001:4:112::1", false)]),
        ("2001:10::/28", &[("2001:10::1", false), ("2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", false), ("2001:f:ffff:ffff:ffff:ffff:ffff:ffff", false)]),
        ("2001:20::/28", &[("2001:20::1", false), ("2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", false), ("2001:30::", false)]),
        ("2001:30::/28 (DRIP, in 2001::/23)", &[("2001:30::1", false)]),
        ("2001:db8::/32", &[("2001:db8::", false), ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false), ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", true), ("2001:db9::", true)]),
        ("2002::/16", &[("2002:101:101::1", false), ("2002:c000:204::1", false), ("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), ("2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true), ("2003::", true)]),
        ("2620:4f:8000::/48 (AS112, reachable)", &[("2620:4f:8000::1", true)]),
        ("3fff::/20", &[("3fff::", false), ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", false), ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true), ("3fff:1000::", true)]),
        ("public IPv6", &[("2606:4700::1111", true), ("2a00:1450:4001::1", true), ("2400:cb00::1", true)]),
    ];

    #[test]
    fn only_globally_routable_unicast_is_public() {
        let wrong: Vec<String> = TABLE
            .iter()
            .flat_map(|(range, rows)| rows.iter().map(move |row| (range, row)))
            .filter(|(_, (address, public))| is_public(address.parse().unwrap()) != *public)
            .map(|(range, (address, public))| {
                format!("{address} ({range}): expected public={public}")
            })
            .collect();
        assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
    }
}
