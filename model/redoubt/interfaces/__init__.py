"""What users drive: the command line, the browser page and its drawings, the EMA adapter."""
