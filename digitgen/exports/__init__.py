"""Exports of a dataset split in the formats trainers load in one line: COCO JSON, the YOLO folder layout, Hugging Face Parquet.

Importing this package runs nothing: each user imports the modules it needs.

- :mod:`~digitgen.exports.records`: the objects (digit and number boxes with provenance) of a shard, PNG encoding, file writes;
- :mod:`~digitgen.exports.coco`, :mod:`~digitgen.exports.yolo`, :mod:`~digitgen.exports.parquet`: one format each;
- :mod:`~digitgen.exports.assemble`: the formats by name, what a shard writes and how its records become the export's index files;
- :mod:`~digitgen.exports.reader`: the streaming reader of split folders (sequences or canvases), every shard checked;
- :mod:`~digitgen.exports.run`: ``digitgen export``: a split folder into a new export folder, atomically.
"""
