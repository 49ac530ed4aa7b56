"""Finding a customer or a case by an exact key (phone, email, case reference), never by a
fragment: what an agent may see of them is what row-level security lets them see."""
