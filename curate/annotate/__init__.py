"""Annotating a sample of documents with an LLM, as request and response files.

export.py writes batch request files for a task (tasks.py: the templates in configs/prompts/),
importer.py parses the answers (parse.py) into labels, fitting Bradley-Terry ratings for pairwise
tasks (bradley_terry.py). `curate train-rater` then distils the labels into a fastText rater and the
`rate` stage applies it to a whole corpus (curate/stages/rate/).
"""
