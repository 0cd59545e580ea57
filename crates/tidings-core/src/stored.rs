//! Values stored as text columns, read and written by sqlx on both engines (feature `sqlx`).
//!
//! [`stored_as_text!`](crate::stored_as_text) implements sqlx's `Type`, `Encode` and `Decode`
//! for any type that is `AsRef<str>` and `FromStr`: every prefixed id (done once in the id
//! macro) and every enum stored by name, whose strings `strum` derives (`AsRefStr`,
//! `EnumString`). A row struct then holds `WorkspaceId` or `JobState` directly, and a stored
//! value that does not parse is a decode error naming the value, never a panic.

/// Implements sqlx's `Type`, `Encode` and `Decode` for `$ty` as text, for every database whose
/// `&str` is text (SQLite and PostgreSQL). `$ty` must be `AsRef<str>` (what is stored) and
/// `FromStr` with a displayable error (what is read). The calling crate depends on sqlx.
#[macro_export]
macro_rules! stored_as_text {
    ($ty:ty) => {
        impl<DB: ::sqlx::Database> ::sqlx::Type<DB> for $ty
        where
            str: ::sqlx::Type<DB>,
        {
            fn type_info() -> <DB as ::sqlx::Database>::TypeInfo {
                <str as ::sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &<DB as ::sqlx::Database>::TypeInfo) -> bool {
                <str as ::sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: ::sqlx::Database> ::sqlx::Encode<'q, DB> for $ty
        where
            for<'a> &'a str: ::sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as ::sqlx::Database>::ArgumentBuffer,
            ) -> ::std::result::Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                <&str as ::sqlx::Encode<'q, DB>>::encode_by_ref(&::std::convert::AsRef::<str>::as_ref(self), buf)
            }
        }

        impl<'r, DB: ::sqlx::Database> ::sqlx::Decode<'r, DB> for $ty
        where
            &'r str: ::sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as ::sqlx::Database>::ValueRef<'r>,
            ) -> ::std::result::Result<Self, ::sqlx::error::BoxDynError> {
                let raw = <&'r str as ::sqlx::Decode<'r, DB>>::decode(value)?;
                <$ty as ::std::str::FromStr>::from_str(raw)
                    .map_err(|error| format!("stored {} `{raw}`: {error}", stringify!($ty)).into())
            }
        }
    };
}
