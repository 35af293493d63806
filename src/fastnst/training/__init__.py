"""Training: the LightningModule, the data modules and uint8 shards."""
