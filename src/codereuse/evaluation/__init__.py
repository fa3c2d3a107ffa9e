"""What every result is read against: learned lexical floors, the frozen pre-trained model, the
verdict that compares them, and the dataset card that prints them."""
