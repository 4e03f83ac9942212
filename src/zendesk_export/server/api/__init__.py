"""HTTP handlers of the Zendesk API: parse the ``Call``, hand plain values to the model or the export, render."""
