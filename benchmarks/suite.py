"""Controllers on a committed held-out suite (`autotrain-jax compare`'s code).

    python benchmarks/suite.py --suite v2 --data-dir ../shared/data \
        --out benchmarks/suite-v2
"""

from autotrain_jax.experiments.compare import main

if __name__ == "__main__":
    main()
