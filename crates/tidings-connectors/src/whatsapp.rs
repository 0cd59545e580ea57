//! TODO: written by a helper.
