"""`python -m modelzoo` runs the same CLI as the `modelzoo` console script."""

from modelzoo.cli import main

if __name__ == "__main__":
    main()
