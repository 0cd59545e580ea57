//! The inbox's states and kinds, as enums that know their stored names.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Defines a string-backed enum with `as_str`, `parse` and `ALL`.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and shown name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a stored or submitted name.
            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
// Other capabilities above the inbox define their stored enums with it too.
pub(crate) use stored_enum;

stored_enum!(
    /// Where a conversation is in the team's work.
    ConversationStatus {
        /// Waiting for the team.
        Open = "open",
        /// Put aside until `snoozedUntil`; reopens then, or when the customer writes again.
        Snoozed = "snoozed",
        /// Done.
        Closed = "closed",
        /// The AI handed it to a person.
        NeedsHuman = "needs_human",
    }
);

stored_enum!(
    /// A review with its replies, or a message thread.
    ConversationKind {
        /// A review and the owner's reply.
        Review = "review",
        /// A message thread with a contact.
        Thread = "thread",
    }
);

stored_enum!(
    /// Who sent a message.
    Direction {
        /// From the customer.
        Inbound = "inbound",
        /// From the business.
        Outbound = "outbound",
    }
);

stored_enum!(
    /// What a message is.
    MessageKind {
        /// A review.
        Review = "review",
        /// A direct message.
        Message = "message",
        /// A public comment.
        Comment = "comment",
        /// The owner's reply to a review.
        Reply = "reply",
    }
);

stored_enum!(
    /// Where a reply written in Tidings is, from draft to posted.
    ResponseStatus {
        /// Saved, not sent.
        Draft = "draft",
        /// Waiting in the outbound queue.
        Queued = "queued",
        /// Handed to the platform; the answer has not been recorded yet.
        Sending = "sending",
        /// Posted on the platform.
        Posted = "posted",
        /// The platform refused it, or retries ran out.
        Failed = "failed",
        /// The platform's API does not take replies: post it by hand with the deep link.
        ManualRequired = "manual_required",
        /// Someone confirmed they posted it by hand.
        PostedManually = "posted_manually",
        /// A send was interrupted after the platform may have received it; not resent automatically.
        Unconfirmed = "unconfirmed",
        /// Removed (and deleted from the platform where it allows).
        Deleted = "deleted",
    }
);

stored_enum!(
    /// What a reply in a message thread sends (Meta's messaging windows allow each for a time).
    ReplyKind {
        /// Free text.
        Text = "text",
        /// Free text tagged `HUMAN_AGENT` (Messenger, Instagram).
        HumanAgent = "human_agent",
        /// An approved WhatsApp message template.
        Template = "template",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for status in ResponseStatus::ALL {
            assert_eq!(ResponseStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(ConversationStatus::parse("needs_human"), Some(ConversationStatus::NeedsHuman));
        assert_eq!(ConversationStatus::parse("pending"), None);
        assert_eq!(serde_json::to_value(ConversationStatus::NeedsHuman).ok(), Some(serde_json::json!("needs_human")));
    }
}
