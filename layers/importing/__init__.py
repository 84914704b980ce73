"""Importing agency files into layers: find what is in an upload, read it, clean it, load it, swap it in."""
