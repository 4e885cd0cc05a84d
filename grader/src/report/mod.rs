//! Reports, all written from one [`crate::model::Report`].
