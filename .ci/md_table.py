"""A CSV file as a markdown table, for the GPU workflow's pull-request comment:

    python .ci/md_table.py plots/ttest.csv"""

import csv
import sys


def md_table(rows: list[list[str]]) -> str:
    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


if __name__ == "__main__":
    with open(sys.argv[1], newline="") as f:
        print(md_table(list(csv.reader(f))))
