//! Identity queries, one file per aggregate. Functions touching a workspace's data take its
//! `WorkspaceId` first.

mod api_keys;
mod invites;
mod memberships;
mod sessions;
mod two_factor;
mod users;
mod workspaces;

pub use self::api_keys::*;
pub use self::invites::*;
pub use self::memberships::*;
pub use self::sessions::*;
pub use self::two_factor::*;
pub use self::users::*;
pub use self::workspaces::*;
