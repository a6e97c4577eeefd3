"""What a trainer is fed: datasets and their splits, label noise, augmentation."""
