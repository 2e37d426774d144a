"""Raw-dataset converters, installed as ``actclr.pipelines``."""
