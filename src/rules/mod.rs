//! **rules**, the leaf every stage may read: facts about the world loaded from the plain files
//! under `rules/` — pool domains, addresses and ports ([`intel`]) and the estimation tables
//! ([`tables`]: algorithm units, power per hash). Files in; validated, indexed rules out, or an
//! error naming the file and line. It imports nothing of the crate.

pub mod intel;
pub mod tables;
