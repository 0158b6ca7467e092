# datasets/: files added by its own module work.
