"""Who an address belongs to: normalised phones and emails linked to bank customers."""
