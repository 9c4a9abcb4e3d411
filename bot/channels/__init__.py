"""One module per platform: turn platform updates into Inbound, render Replies back."""
