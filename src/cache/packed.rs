//! Accounts and platforms as bytes: each text as its length (two bytes) and its UTF-8, each
//! number as eight bytes. Only this process writes and reads them, so what is read was parsed
//! when it was written; bytes that do not read back (which cannot happen) are a miss, never an
//! error.

use crate::clock::Timestamp;
use crate::domain::{DisplayName, Email, Handle, InstanceUrl, PlatformKind, PlatformLabel};
use crate::ids::{PlatformId, UserId};
use crate::model::{Platform, User};

#[derive(Default)]
struct Packer(Vec<u8>);

impl Packer {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn int(&mut self, n: i64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    /// `None` if the text is too long to pack (no kept value is).
    fn text(&mut self, text: &str) -> Option<()> {
        self.0.extend_from_slice(&u16::try_from(text.len()).ok()?.to_le_bytes());
        self.0.extend_from_slice(text.as_bytes());
        Some(())
    }

    fn done(self) -> Box<[u8]> {
        self.0.into_boxed_slice()
    }
}

struct Unpacker<'a>(&'a [u8]);

impl<'a> Unpacker<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn int(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn text(&mut self) -> Option<&'a str> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
        std::str::from_utf8(self.take(usize::from(len))?).ok()
    }
}

const ADMIN: u8 = 1;
const DISABLED: u8 = 2;

pub(super) fn pack_user(user: &User) -> Option<Box<[u8]>> {
    let mut p = Packer(Vec::with_capacity(5 + user.email.as_str().len() + user.display_name.as_str().len()));
    p.byte(if user.is_admin { ADMIN } else { 0 } | if user.disabled { DISABLED } else { 0 });
    p.text(user.email.as_str())?;
    p.text(user.display_name.as_str())?;
    // Where the platforms begin is kept as a `u16` (`Owner::platforms_at`).
    u16::try_from(p.0.len()).ok()?;
    Some(p.done())
}

pub(super) fn user(id: UserId, bytes: &[u8]) -> Option<User> {
    let mut u = Unpacker(bytes);
    let flags = u.byte()?;
    Some(User {
        id,
        email: Email::parsed_before(u.text()?),
        display_name: DisplayName::parsed_before(u.text()?),
        is_admin: flags & ADMIN != 0,
        disabled: flags & DISABLED != 0,
    })
}

const KINDS: [PlatformKind; 3] = [PlatformKind::Mastodon, PlatformKind::Pixelfed, PlatformKind::Other];

pub(super) fn pack_platforms(platforms: &[Platform]) -> Option<Box<[u8]>> {
    let size: usize = platforms
        .iter()
        .map(|p| 23 + p.label.as_str().len() + p.instance_url.as_str().len() + p.handle.as_str().len())
        .sum();
    let mut p = Packer(Vec::with_capacity(size));
    for platform in platforms {
        p.int(platform.id.get());
        p.int(platform.created_at.millis());
        p.byte(KINDS.iter().position(|&k| k == platform.kind)? as u8);
        p.text(platform.label.as_str())?;
        p.text(platform.instance_url.as_str())?;
        p.text(platform.handle.as_str())?;
    }
    Some(p.done())
}

pub(super) fn platforms(bytes: &[u8]) -> Option<Vec<Platform>> {
    let mut u = Unpacker(bytes);
    let mut platforms = Vec::new();
    while !u.0.is_empty() {
        platforms.push(Platform {
            id: PlatformId::parse(u.int()?).ok()?,
            created_at: Timestamp(u.int()?),
            kind: *KINDS.get(usize::from(u.byte()?))?,
            label: PlatformLabel::parsed_before(u.text()?),
            instance_url: InstanceUrl::parsed_before(u.text()?),
            handle: Handle::parsed_before(u.text()?),
        });
    }
    Some(platforms)
}
