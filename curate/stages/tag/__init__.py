"""The tag stage: domain tags for every document, never dropping one.

- URL features (url.py): `url_domain`, `url_tld`, `url_path_tokens`; URL rules (rules.py) -> `url_tags`.
- taggers (taggers.py; fastText or linear.py's TF-IDF models): `COLUMN`, `COLUMN_prob` (and `COLUMN__LABEL` with `distribution`)
  per tagger, checked against a taxonomy (taxonomy.py) before any work. The built-in `sib200-topic`
  tags 7 topics in 205 languages out of the box.
- Clusters (clusters.py) with `cluster: K`: k-means over LSA vectors fitted on a sample in a first
  pass (prepare), then `cluster`, `cluster_distance` (and `cluster_group` with `cluster_merge`).
- The domain mix (mix.py): docs and tokens per topic, format, cluster, URL tag and source, on
  stderr and in `_summary/tag-domain-mix.parquet` beside the output.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from curate.batching import batched
from curate.errors import StageError
from curate.models import ModelInfo, models_dir, register_model, resolve_model
from curate.records import ID, SOURCE, TEXT, URL, is_rejected
from curate.stage import PrepareContext, Stage, StageConfig
from curate.stages import register
from curate.stages.tag import clusters as clustering
from curate.stages.tag.mix import DomainMix, default_dimensions, mix_from_files
from curate.stages.tag.rules import load_rules, tag_url
from curate.stages.tag.taggers import Tagger, load_tagger, parse_spec
from curate.stages.tag.taxonomy import load_taxonomy
from curate.stages.tag.url import parse_url

BATCH = 2048
STARTER_RULES = Path(__file__).resolve().parents[3] / "configs" / "tag-rules.yaml"
SUMMARY_DIR = "_summary"
MIX_FILE = "tag-domain-mix.parquet"
CLUSTERS_FILE = "tag-clusters.parquet"


class TagConfig(StageConfig):
    url_rules: str | None = Field("starter", description=(
        "URL rules file (YAML: glob/regex on host and path -> tag, see configs/tag-rules.yaml); "
        "'starter' = that file, 'none' = no rules."))
    taggers: list[str] = Field(["topic=sib200-topic"], json_schema_extra={"cli_aliases": ["--tagger"]}, description=(
        "Taggers as COLUMN=MODEL (a registered name, or a fastText .bin/.ftz or linear .npz path), e.g. topic=sib200-topic, "
        "format=my-format. Each writes COLUMN (top label) and COLUMN_prob."))
    taxonomies: list[str] = Field([], json_schema_extra={"cli_aliases": ["--taxonomy"]}, description=(
        "COLUMN=TAXONOMY (a name in configs/taxonomies/ or a YAML path): the tagger for COLUMN must have "
        "exactly these labels, checked before any work. A model that records its taxonomy is checked too."))
    distribution: bool = Field(False, description="Also write every label's probability as COLUMN__LABEL.")
    max_chars: int | None = Field(10_000, ge=1, description="Taggers read the first N characters of each document.")
    cluster: int | None = Field(None, ge=2, description=(
        "Cluster into K groups (TF-IDF -> LSA -> mini-batch k-means fitted on a sample); writes "
        "cluster and cluster_distance. Needs a first pass over the inputs."))
    cluster_sample: int = Field(20_000, ge=10, description="Documents (sampled at random) to fit the clusters on.")
    cluster_dims: int = Field(100, ge=2, description="LSA dimensions (truncated SVD) of the document vectors.")
    cluster_merge: int | None = Field(None, ge=2, description=(
        "Also group the K clusters into this many (Ward merge of the centres, as CLIMB regrouped): cluster_group."))
    cluster_model: str | None = Field(None, description=(
        "Assign with an already fitted cluster model (registered name) instead of fitting one."))
    cluster_name: str = Field("tag-clusters", description="Registry name under which a fitted cluster model is saved.")
    seed: int = Field(0, description="Seed of the cluster sample and k-means.")

    @field_validator("url_rules")
    @classmethod
    def _rules(cls, v):
        return None if v is None or str(v).strip().lower() in ("", "none") else v

    @field_validator("taggers", "taxonomies")
    @classmethod
    def _specs(cls, v):
        for spec in v:
            try:
                parse_spec(spec)
            except StageError as e:
                raise ValueError(str(e)) from None
        return v

    @model_validator(mode="after")
    def _consistent(self):
        columns = [parse_spec(s)[0] for s in self.taggers]
        named = [c for c in columns if c]
        if len(named) != len(set(named)):
            raise ValueError("two taggers write the same column; name them COLUMN=MODEL")
        for spec in self.taxonomies:
            column, _ = parse_spec(spec)
            if column is None:
                raise ValueError(f"taxonomies entry {spec!r}: expected COLUMN=TAXONOMY (e.g. topic=weborganizer-topics)")
        if self.cluster_merge is not None and (self.cluster is None or self.cluster_merge >= self.cluster):
            raise ValueError("cluster_merge needs cluster and must be smaller than it")
        if self.cluster_model is not None and self.cluster is not None:
            raise ValueError("give cluster (fit new clusters) or cluster_model (use fitted ones), not both")
        return self


@dataclass(frozen=True)
class ClusterFit:
    """What the fitting pass hands to every shard: the fitted cluster model and its description."""

    path: str
    sha256: str
    info: list[dict] | None  # per cluster: top terms, example URLs (None for a model fitted earlier)


@register
class TagStage(Stage):
    """Tag documents by URL, topic/format taggers and clusters; print the domain mix. Never drops."""

    name = "tag"
    Config = TagConfig
    version = "2"  # 2: clusters on vocabulary TF-IDF (different vectors than version 1's hashed ones)
    columns = {
        "url_domain": pa.string(), "url_tld": pa.string(), "url_path_tokens": pa.list_(pa.string()),
        "url_tags": pa.list_(pa.string()), "cluster": pa.int32(), "cluster_distance": pa.float32(),
        "cluster_group": pa.int32(),
    }
    examples = (
        "curate tag runs/dedup -o runs/tagged                      # URL features + rules, built-in topic tagger\n"
        "curate tag in/ -o out/ --taggers topic=my-topic,format=my-format "
        "--taxonomies topic=weborganizer-topics,format=weborganizer-formats\n"
        "curate tag in/ -o out/ --cluster 24 --cluster-sample 20000\n"
        "curate train-classifier labelled/ --labels topic --features tag2 --epoch 25 -o models/my-topic.bin --name my-topic"
    )

    prepared: ClusterFit | None = None

    @property
    def streaming(self) -> bool:  # type: ignore[override]
        return self.config.cluster is None  # fitting clusters needs a pass over the inputs first

    # -- checks before any work ------------------------------------------------------------

    def check(self) -> None:
        cfg = self.config
        if cfg.url_rules:
            load_rules(self._rules_path())
        taggers = [load_tagger(spec, verify=True) for spec in cfg.taggers]
        columns = [t.column for t in taggers]
        if len(columns) != len(set(columns)):
            raise StageError(f"two taggers write the same column ({', '.join(columns)}); name them COLUMN=MODEL")
        reserved = set(self.columns) | {ID, TEXT, URL, SOURCE}
        for t in taggers:
            if t.column in reserved:
                raise StageError(f"tagger {t.model!r}: column {t.column!r} is taken; name another (COLUMN=MODEL)")
        by_column = {t.column: t for t in taggers}
        for spec in cfg.taxonomies:
            column, name = parse_spec(spec)
            if column not in by_column:
                raise StageError(f"taxonomy for column {column!r}, but no tagger writes it (taggers: {', '.join(columns) or 'none'})")
            load_taxonomy(name).check_model(by_column[column].model, by_column[column].labels)
        for t in taggers:
            if t.taxonomy and not any(parse_spec(s)[0] == t.column for s in cfg.taxonomies):
                load_taxonomy(t.taxonomy).check_model(t.model, t.labels)
        if cfg.cluster_model:
            info, _ = resolve_model(cfg.cluster_model, verify=True)
            if info.kind != "clusters":
                raise StageError(f"cluster_model {cfg.cluster_model!r} is a {info.kind or 'model'} model, not clusters")

    def _rules_path(self) -> Path:
        return STARTER_RULES if self.config.url_rules == "starter" else Path(self.config.url_rules)

    def fingerprint_extra(self) -> dict:
        cfg = self.config
        extra = {"taggers": [resolve_model(parse_spec(s)[1], verify=False)[0].sha256 for s in cfg.taggers]}
        if cfg.url_rules:
            extra["rules"] = self._rules_path().read_text(encoding="utf-8") if self._rules_path().exists() else None
        if cfg.cluster_model:
            extra["clusters"] = resolve_model(cfg.cluster_model, verify=False)[0].sha256
        return extra

    # -- per document ----------------------------------------------------------------------

    def setup(self) -> None:
        cfg = self.config
        self._rules = load_rules(self._rules_path()) if cfg.url_rules else []
        self._taggers: list[Tagger] = [load_tagger(spec) for spec in cfg.taggers]
        self._clusters = None
        fit: ClusterFit | None = self.prepared
        if fit is None and cfg.cluster_model:
            info, p = resolve_model(cfg.cluster_model, verify=False)
            fit = ClusterFit(str(p), info.sha256, None)
        if fit is not None:
            self._clusters = clustering.load(fit.path, fit.sha256)
        if not hasattr(self, "_mix"):
            self._mix = DomainMix(self._dimensions())

    def _dimensions(self) -> tuple[str, ...]:
        cfg = self.config
        columns = [t.column for t in self._taggers] if hasattr(self, "_taggers") else [
            load_tagger(s).column for s in cfg.taggers]
        return default_dimensions(columns, cfg.cluster is not None or cfg.cluster_model is not None, bool(cfg.url_rules))

    def tag_batch(self, batch: list[dict]) -> None:
        """Add this stage's columns to a batch of documents in place."""
        urls = [parse_url(doc.get(URL)) for doc in batch]  # parsed once, for the columns, rules and taggers
        for doc, url in zip(batch, urls):
            doc["url_domain"] = url.domain or None
            doc["url_tld"] = url.tld or None
            doc["url_path_tokens"] = list(url.path_tokens)
            if self._rules:
                doc["url_tags"] = tag_url(self._rules, url)
        if self._taggers:
            texts = [d.get(TEXT) or "" for d in batch]
            for tagger in self._taggers:
                for column, values in tagger.tag(texts, urls, self.config.max_chars, self.config.distribution).items():
                    for doc, v in zip(batch, values):
                        doc[column] = v
        if self._clusters is not None:
            self._assign_clusters(batch)

    def _assign_clusters(self, batch: list[dict]) -> None:
        todo = [i for i, d in enumerate(batch) if (d.get(TEXT) or "").strip()]
        for d in batch:
            d["cluster"], d["cluster_distance"] = None, None  # no text: no cluster (counted as "(none)")
            if self._clusters.group_of is not None:
                d["cluster_group"] = None
        if not todo:
            return
        nearest, dist = self._clusters.assign([batch[i][TEXT] for i in todo])
        for i, c, dd in zip(todo, nearest.tolist(), dist.tolist()):
            batch[i]["cluster"], batch[i]["cluster_distance"] = c, round(dd, 4)
            if self._clusters.group_of is not None:
                batch[i]["cluster_group"] = self._clusters.group_of[c]

    def process(self, docs: Iterable[dict]) -> Iterator[dict]:
        for batch in batched(docs, BATCH):
            self.tag_batch(batch)
            for doc in batch:
                if not is_rejected(doc):
                    self._mix.add_doc(doc)
                yield doc  # the tag stage never drops a document

    # -- clusters: fit on a sample first ---------------------------------------------------

    def prepare(self, ctx: PrepareContext) -> ClusterFit | None:
        cfg = self.config
        if cfg.cluster is None:
            return None
        params = clustering.ClusterParams(k=cfg.cluster, dims=cfg.cluster_dims, sample=cfg.cluster_sample,
                                          seed=cfg.seed, merge_to=cfg.cluster_merge)
        texts, names = self._sample(ctx, params)
        model = clustering.fit(texts, names, params)
        key = (ctx.key or "run").replace("/", "_")[-12:]
        path = models_dir() / "clusters" / f"{cfg.cluster_name}-{key}.joblib"
        clustering.save(model, path)
        info = register_model(ModelInfo(
            name=cfg.cluster_name, path=str(path.resolve()), sha256="", license="fitted locally on the user's data",
            origin="curate tag --cluster", kind="clusters",
            meta={"params": params.__dict__, "vectors": f"TF-IDF ({clustering.MAX_FEATURES:,} most frequent sample words) -> LSA",
                  "fitted_on": len(texts), "clusters": model.describe()},
        ))
        return ClusterFit(str(path.resolve()), info.sha256, model.describe())

    def _sample(self, ctx: PrepareContext, params: clustering.ClusterParams) -> tuple[list[str], list[str]]:
        """A uniform random sample of documents with text (reservoir sampling over every input)."""
        rng = random.Random(params.seed)
        texts: list[str] = []
        names: list[str] = []
        seen = 0
        for shard in ctx.inputs:
            for doc in ctx.docs(shard):
                text = doc.get(TEXT) or ""
                if not text.strip():
                    continue
                item = (text[: params.max_chars], doc.get(URL) or doc.get(ID) or "")
                if len(texts) < params.sample:
                    texts.append(item[0])
                    names.append(item[1])
                else:
                    j = rng.randrange(seen + 1)
                    if j < params.sample:
                        texts[j], names[j] = item
                seen += 1
        return texts, names

    # -- the domain mix ----------------------------------------------------------------------

    def finalize(self, ctx: PrepareContext) -> None:
        out_dir = ctx.work_dir.parent
        if ctx.key != "stream":  # a run into a folder: count the kept outputs of every shard, done now or before
            from curate.manifest import Manifest

            manifest = Manifest(out_dir)
            files = [out_dir / rel for name in manifest.names() if (e := manifest.load(name)) for rel in e.outputs]
            if not hasattr(self, "_taggers"):
                self._taggers = [load_tagger(spec) for spec in self.config.taggers]
            self._mix = mix_from_files(files, self._dimensions())
        else:  # `-o -`: no output folder to put a summary beside; the table still goes to stderr
            return
        self._mix.write(out_dir / SUMMARY_DIR / MIX_FILE)
        self._summary_path = out_dir / SUMMARY_DIR / MIX_FILE
        if self.prepared is not None and self.prepared.info:
            _write_clusters(self.prepared.info, out_dir / SUMMARY_DIR / CLUSTERS_FILE)

    def summary(self, stats: dict):
        from curate.stages.tag.report import TagSummary

        mix = getattr(self, "_mix", None)
        if mix is None:
            return None
        return TagSummary(mix.rows(), mix.total_docs, mix.total_tokens, self.prepared.info if self.prepared else None,
                          str(getattr(self, "_summary_path", "")) or None)


def _write_clusters(info: list[dict], path: Path) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{**c, "top_terms": list(c["top_terms"]), "examples": list(c["examples"])} for c in info]
    pq.write_table(pa.Table.from_pylist(rows), path)
