//! The inbox's states and kinds, as enums that know their stored names.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Defines an enum stored and shown by its snake_case name. strum derives the names (`Display`,
/// `FromStr`, `AsRef<str>`, every variant in `VARIANTS`); serde and the OpenAPI document use the
/// same names; sqlx reads and writes it as text, so rows hold the enum, and a stored name that
/// does not parse is a decode error naming it.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema,
            strum::AsRefStr, strum::Display, strum::EnumString, strum::IntoStaticStr, strum::VariantArray,
        )]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The stored and shown name.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }

        tidings_core::stored_as_text!($name);
    };
}
// The channels' stored enums are defined with it too.
pub(crate) use stored_enum;

stored_enum!(
    /// Where a conversation is in the team's work.
    ConversationStatus {
        /// Waiting for the team.
        Open,
        /// Put aside until `snoozedUntil`; reopens then, or when the customer writes again.
        Snoozed,
        /// Done.
        Closed,
        /// The AI handed it to a person.
        NeedsHuman,
    }
);

stored_enum!(
    /// A review with its replies, or a message thread.
    ConversationKind {
        /// A review and the owner's reply.
        Review,
        /// A message thread with a contact.
        Thread,
    }
);

stored_enum!(
    /// Who sent a message.
    Direction {
        /// From the customer.
        Inbound,
        /// From the business.
        Outbound,
    }
);

stored_enum!(
    /// What a message is.
    MessageKind {
        /// A review.
        Review,
        /// A direct message.
        Message,
        /// A public comment.
        Comment,
        /// The owner's reply to a review.
        Reply,
    }
);

stored_enum!(
    /// Where a reply written in Tidings is, from draft to posted.
    ResponseStatus {
        /// Saved, not sent.
        Draft,
        /// Waiting in the outbound queue.
        Queued,
        /// Handed to the platform; the answer has not been recorded yet.
        Sending,
        /// Posted on the platform.
        Posted,
        /// The platform refused it, or retries ran out.
        Failed,
        /// The platform's API does not take replies: post it by hand with the deep link.
        ManualRequired,
        /// Someone confirmed they posted it by hand.
        PostedManually,
        /// A send was interrupted after the platform may have received it; not resent automatically.
        Unconfirmed,
        /// Removed (and deleted from the platform where it allows).
        Deleted,
    }
);

stored_enum!(
    /// What a reply in a message thread sends (Meta's messaging windows allow each for a time).
    ReplyKind {
        /// Free text.
        Text,
        /// Free text tagged `HUMAN_AGENT` (Messenger, Instagram).
        HumanAgent,
        /// An approved WhatsApp message template.
        Template,
    }
);

#[cfg(test)]
mod tests {
    use strum::VariantArray;

    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for status in ResponseStatus::VARIANTS {
            assert_eq!(status.as_str().parse::<ResponseStatus>().ok(), Some(*status));
        }
        assert_eq!("needs_human".parse::<ConversationStatus>().ok(), Some(ConversationStatus::NeedsHuman));
        assert!("pending".parse::<ConversationStatus>().is_err());
        assert_eq!(ConversationStatus::NeedsHuman.to_string(), "needs_human");
        assert_eq!(ResponseStatus::PostedManually.as_str(), "posted_manually");
        assert_eq!(serde_json::to_value(ConversationStatus::NeedsHuman).ok(), Some(serde_json::json!("needs_human")));
    }
}
