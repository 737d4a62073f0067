//! NETNSID: a network namespace's id as the scanner's own network namespace knows
//! it (`ip netns list-id`), asked over rtnetlink.

use std::os::fd::OwnedFd;

use super::listing::NetnsId;
use super::processes::{errno_of, exhausted};
use crate::{Error, Result};

/// NETNSIDs over one rtnetlink socket (RTM_GETNSID with NETNSA_FD), as lsns asks.
/// netlink-packet-route builds and parses the messages, netlink-sys is the socket.
pub(super) struct NetnsIds {
    socket: Option<netlink_sys::Socket>,
    tried: bool,
    seq: u32,
}

impl NetnsIds {
    pub(super) fn new() -> NetnsIds {
        NetnsIds {
            socket: None,
            tried: false,
            seq: 0,
        }
    }

    /// The NETNSID of `net`; `None` where netlink does not tell (no socket, an
    /// older kernel). Running out of fds or memory for the socket is an error.
    pub(super) fn get(&mut self, net: &OwnedFd) -> Result<Option<NetnsId>> {
        if !self.tried {
            self.tried = true;
            match netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE)
                .and_then(|mut s| s.bind_auto().map(|_| s))
            {
                Ok(socket) => self.socket = Some(socket),
                Err(e) if exhausted(errno_of(&e)) => {
                    return Err(Error::sys("cannot open a netlink socket", e))
                }
                Err(_) => {}
            }
        }
        Ok(self.ask(net))
    }

    fn ask(&mut self, net: &OwnedFd) -> Option<NetnsId> {
        use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
        use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
        use netlink_packet_route::RouteNetlinkMessage;

        let socket = self.socket.as_ref()?;
        let mut msg = NsidMessage::default();
        let raw = std::os::fd::AsRawFd::as_raw_fd(net);
        msg.attributes.push(NsidAttribute::Fd(raw as u32));
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNsId(msg));
        self.seq += 1;
        req.header.flags = NLM_F_REQUEST;
        req.header.sequence_number = self.seq;
        req.finalize();
        let mut buf = vec![0; req.buffer_len()];
        req.serialize(&mut buf);
        socket
            .send_to(&buf, &netlink_sys::SocketAddr::new(0, 0), 0)
            .ok()?;
        let mut reply = vec![0u8; 4096];
        loop {
            let n = socket.recv(&mut &mut reply[..], 0).ok()?;
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply[..n]).ok()?;
            if msg.header.sequence_number != self.seq {
                continue; // a late answer to an earlier question
            }
            return match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNsId(m)) => {
                    m.attributes.iter().find_map(|a| match a {
                        NsidAttribute::Id(-1) => Some(NetnsId::Unassigned),
                        NsidAttribute::Id(n) => Some(NetnsId::Id(*n)),
                        _ => None,
                    })
                }
                _ => None,
            };
        }
    }
}
