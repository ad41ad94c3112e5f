//! Reports for people: terminal text and one self-contained HTML page (under construction).
