//! The chunk table in LanceDB: one table per data home, rows tagged by project.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase};
use lancedb::{DistanceType, Table};

use crate::embed::DIMENSIONS;
use crate::{Error, Hit, Result};

const TABLE: &str = "chunks";
/// Past this many chunks an ANN index is built over the vectors; below it an
/// exact scan is fast enough (a few milliseconds per 10k chunks).
pub const ANN_THRESHOLD: usize = 50_000;
/// Partitions probed per ANN query, as a share of all partitions (at least
/// [`MIN_PROBES`]), then the candidates are re-scored on the full vectors
/// (`REFINE` × k of them). Chosen with `codexos bench search`, which measures
/// recall@10 against exact search.
const PROBE_SHARE: f64 = 0.06;
const MIN_PROBES: usize = 16;
const REFINE: u32 = 4;
/// Values per `IN (…)` list in a predicate.
const DELETE_GROUP: usize = 200;

/// A chunk ready to store, with its vector.
#[derive(Debug, Clone)]
pub struct Row {
    /// Project name.
    pub project: String,
    /// Path relative to the project root.
    pub path: String,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, inclusive.
    pub end_line: u32,
    /// Heading or JSON path, if any.
    pub heading: Option<String>,
    /// PDF page, if any.
    pub page: Option<u32>,
    /// Kind of the file (`markdown`, `code`, `text`).
    pub kind: &'static str,
    /// Programming language of a code file (`rust`, `python` …).
    pub language: Option<&'static str>,
    /// Content hash of the file it came from.
    pub file_hash: String,
    /// Content hash of the chunk text: identical chunks share one embedding.
    pub chunk_hash: String,
    /// The commit that last changed the chunk's lines (git trees only;
    /// `None` for uncommitted lines and folders outside git).
    pub commit: Option<String>,
    /// When those lines were last changed: the commit's author time, or the
    /// file's modification time for uncommitted lines (Unix seconds).
    pub author_time: Option<i64>,
    /// The chunk text.
    pub text: String,
    /// Its embedding.
    pub vector: Vec<f32>,
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("project", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("start_line", DataType::UInt32, false),
        Field::new("end_line", DataType::UInt32, false),
        Field::new("heading", DataType::Utf8, true),
        Field::new("page", DataType::UInt32, true),
        Field::new("kind", DataType::Utf8, false),
        Field::new("language", DataType::Utf8, true),
        Field::new("file_hash", DataType::Utf8, false),
        Field::new("chunk_hash", DataType::Utf8, false),
        Field::new("commit", DataType::Utf8, true),
        Field::new("author_time", DataType::Int64, true),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "vector",
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, true)),
                DIMENSIONS as i32,
            ),
            false,
        ),
    ]))
}

fn lance(action: &'static str) -> impl FnOnce(lancedb::Error) -> Error {
    move |source| Error::Index { action, source }
}

fn same_columns(found: &SchemaRef) -> bool {
    let expected = schema();
    found.fields().len() == expected.fields().len()
        && expected
            .fields()
            .iter()
            .zip(found.fields().iter())
            .all(|(want, have)| want.name() == have.name() && want.data_type() == have.data_type())
}

/// Quotes a value for a LanceDB SQL predicate.
pub(crate) fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Quoted, comma-separated values for a SQL `IN (…)` list.
fn in_list(values: &[impl AsRef<str>]) -> String {
    values
        .iter()
        .map(|value| quote(value.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which relevance column a result batch carries.
#[derive(Debug, Clone, Copy)]
enum Relevance {
    /// `_distance` (cosine distance), reported as similarity.
    Distance,
    /// `_score` (BM25).
    Score,
}

/// The chunk store of one data home.
#[derive(Clone)]
pub struct Index {
    table: Table,
    rebuilt: bool,
    /// Partitions of the vector index, once one exists.
    partitions: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Index").finish_non_exhaustive()
    }
}

impl Index {
    /// Opens the chunk table under `directory`, creating it when absent.
    pub async fn open(directory: &Path) -> Result<Self> {
        let uri = directory.to_string_lossy();
        let connection = lancedb::connect(&uri)
            .execute()
            .await
            .map_err(lance("opening the LanceDB folder"))?;
        let mut rebuilt = false;
        let table = match connection.open_table(TABLE).execute().await {
            Ok(table)
                if same_columns(
                    &table
                        .schema()
                        .await
                        .map_err(lance("reading the chunk table schema"))?,
                ) =>
            {
                table
            }
            Ok(_) => {
                // Written by an older CodexOS: chunks are derived data, so the
                // table is rebuilt and the caller re-ingests from the sources.
                tracing::warn!("the chunk table has an older layout; rebuilding it");
                connection
                    .drop_table(TABLE, &[])
                    .await
                    .map_err(lance("dropping the old chunk table"))?;
                rebuilt = true;
                connection
                    .create_empty_table(TABLE, schema())
                    .execute()
                    .await
                    .map_err(lance("creating the chunk table"))?
            }
            Err(lancedb::Error::TableNotFound { .. }) => {
                match connection
                    .create_empty_table(TABLE, schema())
                    .execute()
                    .await
                {
                    Ok(table) => table,
                    // Another process created it first.
                    Err(lancedb::Error::TableAlreadyExists { .. }) => connection
                        .open_table(TABLE)
                        .execute()
                        .await
                        .map_err(lance("opening the chunk table"))?,
                    Err(error) => return Err(lance("creating the chunk table")(error)),
                }
            }
            Err(error) => return Err(lance("opening the chunk table")(error)),
        };
        let index = Self {
            table,
            rebuilt,
            partitions: Arc::default(),
        };
        index.load_partitions().await?;
        Ok(index)
    }

    /// Reads the vector index's partition count (0 when there is none).
    async fn load_partitions(&self) -> Result<()> {
        let indices = self
            .table
            .list_indices()
            .await
            .map_err(lance("listing indices"))?;
        if !indices
            .iter()
            .any(|index| index.columns.iter().any(|column| column == "vector"))
        {
            self.partitions
                .store(0, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
        // LanceDB does not expose the partition count it built with; the
        // build rule gives it back (rows only grow slowly past the build).
        let rows = self.count(None).await?;
        self.partitions
            .store(partitions_for(rows), std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Removes every chunk and the vector index (trained on the old
    /// vectors): for when the embedding model changes and every vector must
    /// be computed again.
    pub async fn clear(&self) -> Result<()> {
        self.table
            .delete("true")
            .await
            .map_err(lance("clearing the chunk table"))?;
        let indices = self
            .table
            .list_indices()
            .await
            .map_err(lance("listing indices"))?;
        for index in indices
            .iter()
            .filter(|index| index.columns.iter().any(|column| column == "vector"))
        {
            self.table
                .drop_index(&index.name)
                .await
                .map_err(lance("dropping the vector index"))?;
        }
        self.partitions
            .store(0, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Whether an ANN index serves vector queries.
    #[must_use]
    pub fn has_vector_index(&self) -> bool {
        self.partitions.load(std::sync::atomic::Ordering::Relaxed) > 0
    }

    /// Builds the ANN index over the vectors when the table has grown past
    /// the threshold (50,000 chunks) and has none yet (or always, with `force`).
    /// IVF with 8-bit scalar quantisation keeps recall high on 384-dim
    /// embeddings where the PQ defaults do not; queries re-score the
    /// candidates on the full vectors.
    pub async fn ensure_vector_index(&self, force: bool) -> Result<bool> {
        let rows = self.count(None).await?;
        if self.has_vector_index() || (!force && rows < ANN_THRESHOLD) || rows < 256 {
            return Ok(false);
        }
        let partitions = partitions_for(rows);
        self.table
            .create_index(
                &["vector"],
                lancedb::index::Index::IvfSq(
                    lancedb::index::vector::IvfSqIndexBuilder::default()
                        .distance_type(DistanceType::Cosine)
                        .num_partitions(partitions as u32),
                ),
            )
            .execute()
            .await
            .map_err(lance("building the vector index"))?;
        self.partitions
            .store(partitions, std::sync::atomic::Ordering::Relaxed);
        Ok(true)
    }

    /// Whether opening found a table of an older layout and rebuilt it empty:
    /// every file must then be indexed again.
    #[must_use]
    pub fn was_rebuilt(&self) -> bool {
        self.rebuilt
    }

    /// Number of chunks stored for a project (all projects with `None`).
    pub async fn count(&self, project: Option<&str>) -> Result<usize> {
        self.table
            .count_rows(project.map(|name| format!("project = {}", quote(name))))
            .await
            .map_err(lance("counting chunks"))
    }

    /// Deletes every chunk of a project.
    pub async fn delete_project(&self, project: &str) -> Result<()> {
        self.table
            .delete(format!("project = {}", quote(project)).as_str())
            .await
            .map_err(lance("deleting the project's chunks"))?;
        Ok(())
    }

    /// Deletes every chunk of these files.
    pub async fn delete_files(&self, project: &str, paths: &[String]) -> Result<()> {
        for group in paths.chunks(DELETE_GROUP) {
            let list = in_list(group);
            let predicate = format!("project = {} AND path IN ({list})", quote(project));
            self.table
                .delete(predicate.as_str())
                .await
                .map_err(lance("deleting chunks"))?;
        }
        Ok(())
    }

    /// Replaces the chunks of the files that `rows` come from: old rows of each
    /// of `paths` are deleted, then `rows` appended.
    pub async fn replace_files(&self, project: &str, paths: &[String], rows: &[Row]) -> Result<()> {
        self.delete_files(project, paths).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let batch = to_batch(rows)?;
        self.table
            .add(batch)
            .execute()
            .await
            .map_err(lance("storing chunks"))?;
        Ok(())
    }

    /// Stored vectors of chunks with these content hashes (any project), so
    /// identical chunks are embedded once.
    pub async fn vectors_by_hash(
        &self,
        hashes: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<f32>>> {
        let mut found = std::collections::HashMap::new();
        if hashes.is_empty() || self.count(None).await? == 0 {
            return Ok(found);
        }
        let mut unique: Vec<&String> = hashes.iter().collect();
        unique.sort();
        unique.dedup();
        for group in unique.chunks(DELETE_GROUP) {
            let list = in_list(group);
            let batches: Vec<RecordBatch> = self
                .table
                .query()
                .only_if(format!("chunk_hash IN ({list})"))
                .select(lancedb::query::Select::columns(&["chunk_hash", "vector"]))
                .execute()
                .await
                .map_err(lance("looking up stored embeddings"))?
                .try_collect()
                .await
                .map_err(lance("reading stored embeddings"))?;
            for batch in &batches {
                let hash = column::<StringArray>(batch, "chunk_hash")?;
                let vectors = column::<FixedSizeListArray>(batch, "vector")?;
                for row in 0..batch.num_rows() {
                    let values = vectors.value(row);
                    let Some(values) = values.as_any().downcast_ref::<Float32Array>() else {
                        return Err(Error::Schema { column: "vector" });
                    };
                    found
                        .entry(hash.value(row).to_owned())
                        .or_insert_with(|| values.values().to_vec());
                }
            }
        }
        Ok(found)
    }

    /// Merges the small files that each ingest batch adds and drops versions
    /// older than LanceDB's safety window (7 days), so a folder re-ingested
    /// often does not fragment the table or grow the disk without bound.
    pub async fn compact(&self) -> Result<()> {
        if self.count(None).await? > 0 {
            self.ensure_text_index().await?;
        }
        self.table
            .optimize(lancedb::table::OptimizeAction::All)
            .await
            .map_err(lance("compacting the chunk table"))?;
        self.ensure_vector_index(false).await?;
        Ok(())
    }

    /// Builds the BM25 full-text index over chunk text, and a B-tree index
    /// over chunk hashes (embedding reuse looks them up on every flush),
    /// once; later ingests update them through [`Index::compact`].
    async fn ensure_text_index(&self) -> Result<()> {
        let indices = self
            .table
            .list_indices()
            .await
            .map_err(lance("listing indices"))?;
        let has = |name: &str| {
            indices
                .iter()
                .any(|index| index.columns.iter().any(|column| column == name))
        };
        if !has("text") {
            self.table
                .create_index(
                    &["text"],
                    lancedb::index::Index::FTS(lancedb::index::scalar::FtsIndexBuilder::default()),
                )
                .execute()
                .await
                .map_err(lance("building the full-text index"))?;
        }
        if !has("chunk_hash") {
            self.table
                .create_index(
                    &["chunk_hash"],
                    lancedb::index::Index::BTree(
                        lancedb::index::scalar::BTreeIndexBuilder::default(),
                    ),
                )
                .execute()
                .await
                .map_err(lance("building the chunk-hash index"))?;
        }
        Ok(())
    }

    /// The `k` best BM25 matches for `text`, among rows matching `predicate`.
    pub async fn full_text(
        &self,
        text: &str,
        k: usize,
        predicate: Option<&str>,
    ) -> Result<Vec<Hit>> {
        if self.count(None).await? == 0 {
            return Ok(Vec::new());
        }
        self.ensure_text_index().await?;
        let mut query = self
            .table
            .query()
            .full_text_search(lancedb::index::scalar::FullTextSearchQuery::new(
                text.to_owned(),
            ))
            .limit(k);
        if let Some(predicate) = predicate {
            query = query.only_if(predicate);
        }
        collect_hits(query, Relevance::Score).await
    }

    /// The `k` chunks nearest to `vector` (cosine), among rows matching
    /// `predicate`.
    pub async fn nearest(
        &self,
        vector: &[f32],
        k: usize,
        predicate: Option<&str>,
    ) -> Result<Vec<Hit>> {
        let mut query = self
            .table
            .query()
            .nearest_to(vector)
            .map_err(lance("building the vector query"))?
            .distance_type(DistanceType::Cosine)
            .limit(k);
        let partitions = self.partitions.load(std::sync::atomic::Ordering::Relaxed);
        if partitions > 0 {
            let probes = ((partitions as f64 * PROBE_SHARE).ceil() as usize)
                .max(MIN_PROBES)
                .min(partitions);
            query = query
                .nprobes(probes)
                .map_err(lance("setting the probe count"))?
                .refine_factor(REFINE);
        }
        if let Some(predicate) = predicate {
            query = query.only_if(predicate);
        }
        collect_hits(query, Relevance::Distance).await
    }

    /// The exact `k` nearest chunks, scanning every vector (the reference
    /// the ANN index is measured against).
    pub async fn nearest_exact(&self, vector: &[f32], k: usize) -> Result<Vec<Hit>> {
        let query = self
            .table
            .query()
            .nearest_to(vector)
            .map_err(lance("building the vector query"))?
            .distance_type(DistanceType::Cosine)
            .bypass_vector_index()
            .limit(k);
        collect_hits(query, Relevance::Distance).await
    }

    /// Copies up to `limit` chunks matching `predicate`, vectors included,
    /// into `target` (the search benchmark fills tables of chosen sizes from
    /// a cached corpus this way); returns how many were copied.
    pub async fn copy_into(&self, target: &Self, predicate: &str, limit: usize) -> Result<usize> {
        if limit == 0 {
            return Ok(0);
        }
        let batches: Vec<RecordBatch> = self
            .table
            .query()
            .only_if(predicate)
            .limit(limit)
            .execute()
            .await
            .map_err(lance("reading chunks to copy"))?
            .try_collect()
            .await
            .map_err(lance("reading chunks to copy"))?;
        let copied = batches.iter().map(RecordBatch::num_rows).sum();
        if copied > 0 {
            target
                .table
                .add(batches)
                .execute()
                .await
                .map_err(lance("storing copied chunks"))?;
        }
        Ok(copied)
    }

    /// Appends rows without deleting anything first (bulk loads).
    pub async fn append(&self, rows: &[Row]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.table
            .add(to_batch(rows)?)
            .execute()
            .await
            .map_err(lance("storing chunks"))?;
        Ok(())
    }
}

/// IVF partitions for a table of `rows`: about √rows, as LanceDB suggests.
fn partitions_for(rows: usize) -> usize {
    ((rows as f64).sqrt().round() as usize).clamp(1, 4096)
}

/// Runs a query and returns its rows as hits, best first.
async fn collect_hits(query: impl ExecutableQuery, relevance: Relevance) -> Result<Vec<Hit>> {
    let batches: Vec<RecordBatch> = query
        .execute()
        .await
        .map_err(lance("searching"))?
        .try_collect()
        .await
        .map_err(lance("reading search results"))?;
    let mut hits = Vec::new();
    for batch in &batches {
        hits.extend(hits_from_batch(batch, relevance)?);
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(hits)
}

fn strings(rows: &[Row], field: impl Fn(&Row) -> Option<&str>) -> Arc<StringArray> {
    Arc::new(rows.iter().map(field).collect())
}

fn to_batch(rows: &[Row]) -> Result<RecordBatch> {
    let flat: Vec<f32> = rows
        .iter()
        .flat_map(|row| row.vector.iter().copied())
        .collect();
    let ids: Vec<String> = rows
        .iter()
        .map(|row| format!("{}\u{1f}{}\u{1f}{}", row.project, row.path, row.start_line))
        .collect();
    let vectors = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, true)),
        DIMENSIONS as i32,
        Arc::new(Float32Array::from(flat)),
        None,
    )
    .map_err(|source| Error::Arrow { source })?;
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(ids)),
            strings(rows, |row| Some(row.project.as_str())),
            strings(rows, |row| Some(row.path.as_str())),
            Arc::new(
                rows.iter()
                    .map(|row| row.start_line)
                    .collect::<UInt32Array>(),
            ),
            Arc::new(rows.iter().map(|row| row.end_line).collect::<UInt32Array>()),
            strings(rows, |row| row.heading.as_deref()),
            Arc::new(rows.iter().map(|row| row.page).collect::<UInt32Array>()),
            strings(rows, |row| Some(row.kind)),
            strings(rows, |row| row.language),
            strings(rows, |row| Some(row.file_hash.as_str())),
            strings(rows, |row| Some(row.chunk_hash.as_str())),
            strings(rows, |row| row.commit.as_deref()),
            Arc::new(
                rows.iter()
                    .map(|row| row.author_time)
                    .collect::<Int64Array>(),
            ),
            strings(rows, |row| Some(row.text.as_str())),
            Arc::new(vectors),
        ],
    )
    .map_err(|source| Error::Arrow { source })
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|column| column.as_any().downcast_ref::<T>())
        .ok_or(Error::Schema { column: name })
}

fn hits_from_batch(batch: &RecordBatch, relevance: Relevance) -> Result<Vec<Hit>> {
    let project = column::<StringArray>(batch, "project")?;
    let path = column::<StringArray>(batch, "path")?;
    let start = column::<UInt32Array>(batch, "start_line")?;
    let end = column::<UInt32Array>(batch, "end_line")?;
    let heading = column::<StringArray>(batch, "heading")?;
    let page = column::<UInt32Array>(batch, "page")?;
    let kind = column::<StringArray>(batch, "kind")?;
    let language = column::<StringArray>(batch, "language")?;
    let commit = column::<StringArray>(batch, "commit")?;
    let author_time = column::<Int64Array>(batch, "author_time")?;
    let text = column::<StringArray>(batch, "text")?;
    let relevance_column = column::<Float32Array>(
        batch,
        match relevance {
            Relevance::Distance => "_distance",
            Relevance::Score => "_score",
        },
    )?;
    Ok((0..batch.num_rows())
        .map(|row| Hit {
            project: project.value(row).to_owned(),
            path: path.value(row).to_owned(),
            start_line: start.value(row),
            end_line: end.value(row),
            heading: (!heading.is_null(row)).then(|| heading.value(row).to_owned()),
            page: (!page.is_null(row)).then(|| page.value(row)),
            kind: kind.value(row).to_owned(),
            language: (!language.is_null(row)).then(|| language.value(row).to_owned()),
            commit: (!commit.is_null(row)).then(|| commit.value(row).to_owned()),
            author_time: (!author_time.is_null(row)).then(|| author_time.value(row)),
            score: match relevance {
                // Cosine distance is in [0, 2]; report similarity in [-1, 1].
                Relevance::Distance => 1.0 - relevance_column.value(row),
                Relevance::Score => relevance_column.value(row),
            },
            text: text.value(row).to_owned(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_single_quotes() {
        assert_eq!(quote("it's"), "'it''s'");
    }
}
